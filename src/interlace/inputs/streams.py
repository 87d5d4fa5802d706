"""The read calls of a recorded stream (standard input, a child's pipe), shared by its stand-ins.

Each read goes through :meth:`~interlace.inputs.Channel.blocking` as one input of the stream's kind:
recorded from the real stream, or served from the recording when replaying.
"""

from __future__ import annotations

from typing import Any


class RecordedCalls:
    """Mixin: :meth:`_io` makes one call of the stream a recorded input.

    The class using it sets ``_ch`` (the channel), ``_real`` (the real stream, or None when replaying)
    and ``_kind`` (the input kind, e.g. ``"stdin"``).
    """

    _ch: Any
    _real: Any
    _kind: str

    def _io(self, method: str, *args: Any) -> Any:
        real = getattr(self._real, method) if self._real is not None else None
        return self._ch.blocking(self._kind, f"{self._kind}.{method}", real, *args)


class RecordedReads(RecordedCalls):
    """Mixin: ``read``/``read1``/``readline``/``readlines`` and line iteration as recorded inputs."""

    def read(self, size: int = -1) -> Any:
        return self._io("read", size)

    def read1(self, size: int = -1) -> Any:
        return self._io("read1", size)

    def readline(self, size: int = -1) -> Any:
        return self._io("readline", size)

    def readlines(self, hint: int = -1) -> list:
        return self._io("readlines", hint)

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        line = self.readline()
        if not line:
            raise StopIteration
        return line
