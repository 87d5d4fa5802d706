"""Deaths of the objects the race detector knows by address.

The detector holds no reference to program objects (their lifetimes and weak references are the
program's own), so by itself it cannot tell that an object died: a new object at the freed address
would inherit the dead one's accesses, a false race between two unrelated objects. The native module
``interlace._lifetimes`` wraps the deallocators of the types whose instances the detector names and
moves each watched object that dies to :attr:`Watch.died`. Without it (not built, a free-threaded
or non-CPython interpreter, ``INTERLACE_PURE=1``) :func:`watch` returns None and the detector falls
back on telling a new object at a known address by its type and its constructor's first stores.
"""

from __future__ import annotations

import os
from typing import Any

#: the interface version of interlace._lifetimes this code expects (its ``API`` constant)
NATIVE_API = 1

_native: Any = False  # not looked up yet
_shared: Any = None


def native() -> Any:
    """The native module with its deallocators wrapped, or None."""
    global _native
    if _native is False:
        _native = None
        if not os.environ.get("INTERLACE_PURE"):
            try:
                from .. import _lifetimes  # type: ignore[attr-defined]
            except ImportError:
                pass
            else:
                if getattr(_lifetimes, "API", None) == NATIVE_API:
                    import collections

                    # object: every instance of a Python class is freed through it (subtype_dealloc
                    # calls the first deallocator of its bases that is not its own)
                    for tp in (object, list, dict, set, bytearray, collections.deque):
                        _lifetimes.wrap(tp)
                    _native = _lifetimes
    return _native


def watch() -> Any:
    """The process's ``Watch`` (``add(id)``, ``discard(id)``, ``clear()``, ``died``), or None without the
    native module. One execution runs at a time in a process: its detector clears the watch when the
    execution begins and owns it until the next one does (a detector outlives its executions, in the
    results that hold it)."""
    global _shared
    module = native()
    if module is None:
        return None
    if _shared is None:
        _shared = module.Watch()
    return _shared
