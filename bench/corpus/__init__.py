"""A corpus of classic concurrency bugs, each a small Python program (``program()``) that fails --
raises, fails an assertion or deadlocks -- under some interleavings only.

Written for interlace's strategy benchmark (``bench/bench_strategies.py``) after the kinds of bugs in
SCTBench (Thomson, Donaldson and Betts) and JaConTeBe; none is copied from them. Every module's
docstring says what the bug is and why it needs an unlucky interleaving.
"""

from __future__ import annotations

import importlib
import pkgutil

BUGS = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str):
    """The ``program`` function of corpus module ``name``."""
    return importlib.import_module(f"{__name__}.{name}").program
