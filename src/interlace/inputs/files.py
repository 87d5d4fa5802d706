"""Files the program reads: ``open()`` of a regular file for reading by a managed thread.

By default the content's SHA-256 is recorded; a replay hashes the file again and reports a changed
file as a divergence instead of silently using it. With ``--record-files`` the content itself is
recorded and a replay reads it from the recording (the file need not exist any more).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os
from typing import Any

from . import interlace_calling

_real_open = builtins.open


def _wants_read(mode: str) -> bool:
    return "r" in mode and "+" not in mode


def install(ch: Any) -> None:
    def open(file: Any, mode: str = "r", buffering: int = -1, encoding: Any = None, errors: Any = None,
             newline: Any = None, closefd: bool = True, opener: Any = None) -> Any:  # noqa: A001
        ex, me = ch.caller()
        if (me is None or not isinstance(file, (str, bytes, os.PathLike)) or not _wants_read(mode)
                or opener is not None or interlace_calling(1)):
            return _real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
        path = os.fsdecode(file)
        kind = "file.content" if ch.record_files else "file.sha256"
        if ch.recording:
            ch.busy.add(me.tid)
            try:
                try:
                    with _real_open(path, "rb") as f:
                        data = f.read()
                except OSError as exc:
                    from . import encode_exception

                    ch.put(me, kind, (path, encode_exception(exc)))
                    raise
            finally:
                ch.busy.discard(me.tid)
            ch.put(me, kind, (path, data if ch.record_files else hashlib.sha256(data).hexdigest()))
        else:
            from . import unwrap

            recorded_path, value = ch.take(ex, me, kind)
            unwrap(value)  # the recorded failure to open, if any
            if kind == "file.content":
                raw: Any = io.BytesIO(value)
                if "b" in mode:
                    return raw
                return io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline=newline)
            try:
                with _real_open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            except OSError as exc:
                ch.diverge(ex, me, f"thread {me.name!r} opens {path!r}, which existed when the run was "
                                   f"recorded but cannot be read now ({exc.strerror or exc})")
            if digest != value:
                ch.diverge(ex, me, f"thread {me.name!r} reads {path!r}, which changed since the run was "
                                   "recorded (its SHA-256 differs); record with --record-files to replay "
                                   "with the recorded content")
        return _real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)

    ch.set(builtins, "open", open)
    ch.set(io, "open", open)
