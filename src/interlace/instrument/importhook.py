"""The import hook: modules under test are loaded from rewritten code.

A :data:`sys.meta_path` finder placed just before the normal :class:`~importlib.machinery.PathFinder`
asks that finder for the spec and, for ``.py`` sources under test, swaps its loader for
:class:`InstrumentingLoader`, a ``SourceFileLoader`` whose ``get_code`` returns rewritten code (from
the interlace cache, never from or into ``__pycache__``). Everything else about the module —
``__spec__``, ``__file__``, ``__cached__``, packages, relative imports, ``importlib.reload``,
``inspect.getsource`` — is the normal machinery's.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

from .cache import compile_cached
from .selection import DEFAULT, Selection


class InstrumentingLoader(importlib.machinery.SourceFileLoader):
    """Executes the rewritten code of a module under test."""

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        return compile_cached(source, path, sys.flags.optimize)


_busy = threading.local()


class InstrumentingFinder:
    """Meta path finder; returns ``None`` (lets the others decide) for modules not under test."""

    def __init__(self, selection: Selection):
        self.selection = selection

    def __repr__(self) -> str:
        return f"<interlace InstrumentingFinder {self.selection!r}>"

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if self.selection.excluded_by_name(fullname) or getattr(_busy, "active", False):
            return None
        _busy.active = True  # imports made while deciding (e.g. by sysconfig) are not ours
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
            if spec is None or spec.origin is None or not isinstance(
                    spec.loader, importlib.machinery.SourceFileLoader):
                return None
            if not self.selection.is_under_test(fullname, spec.origin):
                return None
        finally:
            _busy.active = False
        spec.loader = InstrumentingLoader(fullname, spec.origin)
        return spec

    def invalidate_caches(self) -> None:
        pass


def install(selection: Selection | None = None) -> InstrumentingFinder:
    """Start instrumenting imports of modules under ``selection``; returns the handle."""
    finder = InstrumentingFinder(selection if selection is not None else DEFAULT)
    meta = sys.meta_path
    for i, f in enumerate(meta):
        if f is importlib.machinery.PathFinder:
            meta.insert(i, finder)
            break
    else:
        meta.append(finder)
    return finder


def uninstall(handle: InstrumentingFinder) -> None:
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(handle)


@contextlib.contextmanager
def instrumenting(selection: Selection | None = None) -> Iterator[InstrumentingFinder]:
    handle = install(selection)
    try:
        yield handle
    finally:
        uninstall(handle)


def is_hook_loaded(module: Any) -> bool:
    """Was ``module`` loaded through the import hook (its code is already instrumented)?"""
    spec = getattr(module, "__spec__", None)
    return isinstance(getattr(spec, "loader", None), InstrumentingLoader) or \
        isinstance(getattr(module, "__loader__", None), InstrumentingLoader)


def compile_script(path: str | os.PathLike[str]) -> types.CodeType:
    """Rewritten code of a main script (``__main__``); FileNotFoundError/SyntaxError like Python."""
    filename = os.path.abspath(os.fspath(path))
    with open(filename, "rb") as f:
        source = f.read()
    return compile_cached(source, filename, sys.flags.optimize)
