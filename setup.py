"""Build of the optional native accelerators (``interlace._speedups``, ``_lifetimes``, ``_races``);
everything else is in pyproject.toml.

The extension is ``optional``: without a C compiler (or on an interpreter it does not support) the
build says so and installs the pure-Python package, which behaves the same, only slower. It is not
built for free-threaded interpreters (its hooks rely on the GIL) nor for implementations other than
CPython.
"""

import platform
import sysconfig

from setuptools import Extension, setup

ext_modules = []
if platform.python_implementation() == "CPython" and not sysconfig.get_config_var("Py_GIL_DISABLED"):
    ext_modules.append(Extension("interlace._speedups", ["src/interlace/_speedups.c"], optional=True))
    ext_modules.append(Extension("interlace._lifetimes", ["src/interlace/_lifetimes.c"], optional=True))
    ext_modules.append(Extension("interlace._races", ["src/interlace/_races.c"], optional=True))

setup(ext_modules=ext_modules)
