"""Standard input: ``sys.stdin`` reads of every kind (``read``, ``readline``, ``readlines``,
iteration, ``sys.stdin.buffer``) and ``input()``.

``sys.stdin`` is replaced by a proxy whose reads go through the channel; a read that would block (a
person typing, a slow pipe) runs in a helper thread while the program's other threads keep running.
When replaying, nothing is read from the real standard input. The proxy has no ``fileno()``, so
``input()`` reads through it (it prints its prompt to ``sys.stdout`` as it does for any non-terminal).
"""

from __future__ import annotations

import io
import sys
from typing import Any

from .streams import RecordedReads


class _Reader(RecordedReads):
    _kind = "stdin"

    def __init__(self, ch: Any, real: Any) -> None:
        self._ch = ch
        self._real = real

    def fileno(self) -> int:
        raise io.UnsupportedOperation("interlace records standard input: it has no file descriptor")

    def isatty(self) -> bool:
        return False

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _BinaryStdin(_Reader):
    _kind = "stdin.buffer"


class RecordedStdin(_Reader):
    def __init__(self, ch: Any, real: Any) -> None:
        super().__init__(ch, real)
        self.buffer = _BinaryStdin(ch, getattr(real, "buffer", None))

    @property
    def encoding(self) -> str:
        return getattr(self._real, "encoding", None) or "utf-8"


def install(ch: Any) -> None:
    real = sys.stdin
    if real is None or not ch.recording:
        real = io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    ch.set(sys, "stdin", RecordedStdin(ch, real))
