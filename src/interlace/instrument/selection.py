"""Which modules are *under test* (instrumented)."""

from __future__ import annotations

import os
import site
import sysconfig
from collections.abc import Sequence
from fnmatch import fnmatchcase
from functools import cache, lru_cache

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # .../interlace


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


@cache
def _stdlib_dirs() -> tuple[str, ...]:
    dirs = set()
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib"):
        if paths.get(key):
            dirs.add(_norm(paths[key]))
    dirs.add(_norm(os.path.dirname(os.__file__)))
    return tuple(sorted(dirs))


@cache
def _site_dirs() -> tuple[str, ...]:
    dirs = set()
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # pragma: no cover - old virtualenv
        pass
    try:
        user = site.getusersitepackages()
    except AttributeError:  # pragma: no cover
        user = None
    if user:
        dirs.add(user)
    return tuple(sorted(_norm(d) for d in dirs))


def _under(path: str, dirs: tuple[str, ...]) -> bool:
    for d in dirs:
        if path == d or path.startswith(d.rstrip(os.sep) + os.sep):
            return True
    return False


@lru_cache(maxsize=4096)
def _default_location_ok(filename: str) -> bool:
    path = _norm(filename)
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    if _under(path, _site_dirs()):
        return False
    if _under(path, _stdlib_dirs()):
        return False
    return True


def _is_interlace(module_name: str, filename: str | None) -> bool:
    if module_name == "interlace" or module_name.startswith("interlace."):
        return True
    return filename is not None and _in_interlace_dir(filename)


@lru_cache(maxsize=4096)
def _in_interlace_dir(filename: str) -> bool:
    """Cached: ``realpath`` per module on every ``explore`` call was most of a small test's cost."""
    return _under(_norm(filename), (_norm(_PKG_DIR),))


def _matches(module_name: str, patterns: Sequence[str]) -> bool:
    for p in patterns:
        if fnmatchcase(module_name, p) or fnmatchcase(module_name, p + ".*"):
            return True
    return False


class Selection:
    """``include``/``exclude``: fnmatch patterns on module names; ``p`` also matches ``p.*``.

    Default: every pure-Python module outside the standard library, site-packages/dist-packages and
    interlace itself. ``include`` widens (even to installed or stdlib modules), ``exclude`` narrows
    and wins. interlace itself can never be included, and only ``.py`` sources are instrumented.
    """

    def __init__(self, include: Sequence[str] = (), exclude: Sequence[str] = ()):
        if isinstance(include, str):
            include = (include,)
        if isinstance(exclude, str):
            exclude = (exclude,)
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        # computed now: computing them lazily inside an import (sysconfig imports modules of its
        # own) re-enters the import hook
        _stdlib_dirs()
        _site_dirs()

    def __repr__(self) -> str:
        return f"Selection(include={list(self.include)!r}, exclude={list(self.exclude)!r})"

    def excluded_by_name(self, module_name: str) -> bool:
        """Cheap check before any file system work: is ``module_name`` certainly not under test?"""
        return module_name == "interlace" or module_name.startswith("interlace.") or \
            _matches(module_name, self.exclude)

    def may_hold_code_under_test(self, filename: str) -> bool:
        """Cheap and cached: could code compiled from ``filename`` be under test by default?"""
        return not _in_interlace_dir(filename) and _default_location_ok(filename)

    def is_under_test(self, module_name: str, filename: str | None) -> bool:
        if filename is None or not filename.endswith(".py"):
            return False
        if _is_interlace(module_name, filename) or _matches(module_name, self.exclude):
            return False
        if _matches(module_name, self.include):
            return True
        return _default_location_ok(filename)


DEFAULT = Selection()
