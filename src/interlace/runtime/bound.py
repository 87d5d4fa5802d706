"""Originals bound by modules that are not instrumented: their globals, swapped for the installation.

A module that binds ``_thread.allocate_lock``, ``time.monotonic`` or ``time.sleep`` to a global of its
own when it is imported (``from time import sleep``; aiologic's ``import_original("_thread",
"allocate_lock")``, made to get past gevent's and eventlet's monkey patching) keeps the real one after
interlace patches the modules it came from. Instrumented code's calls of such a global are substituted
at the call (runtime/calls.py); an installed library is not instrumented, so a managed thread that calls
it makes a real lock, blocks in it where the scheduler cannot see, and the execution is "stuck" (culsans'
queues, on aiologic's waiters: a real lock acquired by the waiter, released by the notifier). While the
runtime is installed, such globals name the controlled counterparts, which behave as the originals for
any thread the execution does not manage.

Only builtin functions and the C ``RLock`` and ``SimpleQueue`` classes are swapped, for the factories
that stand in for them in ``threading`` and ``queue`` too (aiosqlite's ``from queue import SimpleQueue``:
its connection thread waited in a real one); any other class bound (for ``isinstance``, say) stays
the class. Only in
modules outside the standard library (whose bindings the patches handle one by one, and whose
multiprocessing machinery must keep the real ones: runtime/outside.py), interlace, and the test runner.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import BuiltinFunctionType, ModuleType
from typing import Any

from ..instrument.selection import _norm, _site_dirs, _stdlib_dirs, _under

#: the top-level names (prefixes) of the test runner and its plugins: their clocks time the run, whatever
#: thread calls them
_RUNNER = ("_pytest", "pytest", "pluggy", "xdist", "execnet", "coverage", "iniconfig", "_hypothesis_pytestplugin")

#: module -> whether its globals may be swapped (cached by the module's name and file)
_ELIGIBLE: dict[tuple[str, str], bool] = {}


def _eligible(name: str, module: ModuleType) -> bool:
    filename = getattr(module, "__file__", None)
    if not isinstance(filename, str):
        return False  # a builtin or a namespace module: nothing bound by Python code
    key = (name, filename)
    verdict = _ELIGIBLE.get(key)
    if verdict is None:
        top = name.partition(".")[0]
        path = _norm(filename)
        installed = _under(path, _site_dirs()) or not {"site-packages", "dist-packages"}.isdisjoint(path.split(os.sep))
        stdlib = _under(path, _stdlib_dirs()) and not installed
        verdict = _ELIGIBLE[key] = not (stdlib or top == "interlace" or top.startswith(_RUNNER))
    return verdict


def swap_bound(substitutions: dict[int, Any], put: Callable[[dict, str, Any], None],
               classes: tuple[type, ...] = ()) -> int:
    """Calls ``put(globals, name, replacement)`` for each global of an eligible loaded module that is
    one of the originals (``id(original) -> replacement``): builtin functions, and the ``classes``
    whose patched modules' names are factories too (the C ``RLock``, ``SimpleQueue``). Returns how many."""
    found = 0
    for name, module in list(sys.modules.items()):
        if not isinstance(module, ModuleType) or not _eligible(name, module):
            continue
        namespace = module.__dict__
        for attr, value in list(namespace.items()):
            if id(value) in substitutions and (type(value) is BuiltinFunctionType
                                               or any(value is c for c in classes)):
                put(namespace, attr, substitutions[id(value)])
                found += 1
    return found
