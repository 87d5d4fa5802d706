"""On-disk cache of rewritten code, outside ``__pycache__``.

``$INTERLACE_CACHE_DIR`` or ``$XDG_CACHE_HOME/interlace`` or ``~/.cache/interlace``; one file per
(source, filename, interlace version, rewriter sources, Python version, magic number, optimize).
Writes are atomic; unwritable directories are ignored; a corrupt entry is recompiled.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
import types
from typing import Any

from . import registry
from .rewriter import compile_source

_VERSION_FALLBACK = "interlace-instrument-1"
_HEADER = b"ILC1"
_HERE = os.path.dirname(os.path.abspath(__file__))

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
        return code
    code = compile_source(source, filename, "exec", dont_inherit=True, optimize=optimize)
    stats["compiled"] += 1
    _write(path, code)
    return code
