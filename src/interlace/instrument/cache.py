"""On-disk cache of rewritten code, outside ``__pycache__``.

``$INTERLACE_CACHE_DIR`` or ``$XDG_CACHE_HOME/interlace`` or ``~/.cache/interlace``; one file per
(source, filename, interlace version, rewriter sources, Python version, magic number, optimize).
Writes are atomic; unwritable directories are ignored; a corrupt entry is recompiled.

Entries are never invalidated in place (a changed source or interlace is a new key), so the cache
prunes itself: a hit refreshes its entry's modification time (at most once a day), and at most once
a day a miss deletes the entries nobody used for :data:`MAX_AGE` seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
import time
import types
from typing import Any

from . import registry
from .rewriter import compile_source

_VERSION_FALLBACK = "interlace-instrument-1"
_HEADER = b"ILC1"
_HERE = os.path.dirname(os.path.abspath(__file__))

MAX_AGE = 30 * 86400
"""Entries unused for this long (seconds) are deleted by :func:`prune`."""
_DAY = 86400
_STAMP = ".last-pruned"

stats = {"compiled": 0, "hits": 0}
"""Counters for tests and benchmarks: rewrites performed, cache hits."""


def _interlace_version() -> str:
    pkg = sys.modules.get("interlace")
    version = getattr(pkg, "__version__", None)
    return str(version) if version else _VERSION_FALLBACK


def _rewriter_hash() -> bytes:
    h = hashlib.sha256()
    for name in sorted(os.listdir(_HERE)):
        if name.endswith(".py"):
            try:
                with open(os.path.join(_HERE, name), "rb") as f:
                    h.update(name.encode() + b"\0" + f.read())
            except OSError:  # pragma: no cover
                h.update(name.encode())
    # the hooks are the other half of the contract
    try:
        with open(os.path.join(os.path.dirname(_HERE), "runtime", "hooks.py"), "rb") as f:
            h.update(f.read())
    except OSError:  # pragma: no cover
        pass
    return h.digest()


_REWRITER_HASH = _rewriter_hash()


def cache_dir() -> str:
    d = os.environ.get("INTERLACE_CACHE_DIR")
    if d:
        return d
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "interlace")
    return os.path.join(os.path.expanduser("~"), ".cache", "interlace")


def cache_key(source: bytes, filename: str, optimize: int) -> str:
    h = hashlib.sha256()
    for part in (
        _interlace_version().encode(),
        _REWRITER_HASH,
        sys.version.encode(),
        (sys.implementation.cache_tag or "").encode(),
        importlib.util.MAGIC_NUMBER,
        str(optimize).encode(),
        os.fsencode(filename),
    ):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    h.update(source)
    return h.hexdigest()


def cache_path(source: bytes, filename: str, optimize: int = -1) -> str:
    tag = sys.implementation.cache_tag or "python"
    return os.path.join(cache_dir(), tag, cache_key(source, filename, optimize) + ".ilc")


def _read(path: str) -> types.CodeType | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    prefix = _HEADER + importlib.util.MAGIC_NUMBER
    if not data.startswith(prefix):
        return None
    try:
        code: Any = marshal.loads(data[len(prefix):])
    except (ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _write(path: str, code: types.CodeType) -> None:
    try:
        data = _HEADER + importlib.util.MAGIC_NUMBER + marshal.dumps(code)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".ilc")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except (OSError, ValueError):
        pass


def compile_cached(source: bytes, filename: str, optimize: int = -1) -> types.CodeType:
    """Rewritten code for a module's source bytes, from the cache when possible."""
    path = cache_path(source, filename, optimize)
    code = _read(path)
    if code is not None and code.co_filename == filename:
        stats["hits"] += 1
        registry.register(code)
        _refresh(path)
        return code
    code = compile_source(source, filename, "exec", dont_inherit=True, optimize=optimize)
    stats["compiled"] += 1
    _write(path, code)
    _prune_daily()
    return code


def _refresh(path: str) -> None:
    try:
        if os.stat(path).st_mtime < _now() - _DAY:
            os.utime(path)
    except OSError:
        pass


_now = time.time  # bound now: the program's clock may be virtual or recorded while a module compiles


def _prune_daily() -> None:
    stamp = os.path.join(cache_dir(), _STAMP)
    try:
        if os.stat(stamp).st_mtime > _now() - _DAY:
            return
    except OSError:
        pass
    try:
        with open(stamp, "w"):
            pass
    except OSError:
        return  # an unwritable cache is not pruned either
    prune()


def prune(max_age: float = MAX_AGE) -> int:
    """Delete the cache entries (of every Python version) unused for ``max_age`` seconds.

    Returns how many were deleted. Entries are found by their name, so nothing else in the
    directory is touched; an entry another process deletes first is skipped.
    """
    root = cache_dir()
    cutoff = _now() - max_age
    deleted = 0
    try:
        tags = os.listdir(root)
    except OSError:
        return 0
    for tag in tags:
        directory = os.path.join(root, tag)
        try:
            names = os.listdir(directory) if os.path.isdir(directory) else []
        except OSError:
            continue
        for name in names:
            if not name.endswith(".ilc"):
                continue
            path = os.path.join(directory, name)
            try:
                if os.stat(path).st_mtime < cutoff:
                    os.unlink(path)
                    deleted += 1
            except OSError:
                continue
    return deleted
