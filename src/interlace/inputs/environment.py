"""Environment variables: every read of ``os.environ`` (and ``os.getenv``) by a managed thread; the
process ids ``os.getpid()`` and ``os.getppid()``.

``os.environ`` is replaced by a mapping that reads the real environment when recording and the
recorded values when replaying; writes go to the real environment in both cases.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from typing import Any

from . import interlace_calling


class RecordedEnviron(MutableMapping):
    def __init__(self, ch: Any, real: Any) -> None:
        self._ch = ch
        self._real = real

    def _lookup(self, key: Any) -> Any:
        return self._real.get(key)

    def __getitem__(self, key: Any) -> str:
        if interlace_calling(1):
            return self._real[key]
        value = self._ch.call("environ", self._lookup, key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._real[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._real[key]

    def __iter__(self) -> Iterator[str]:
        if interlace_calling(1):
            return iter(list(self._real))
        return iter(self._ch.call("environ.keys", lambda: list(self._real)))

    def __len__(self) -> int:
        return len(self._ch.call("environ.keys", lambda: list(self._real)))

    def copy(self) -> dict:
        return dict(self.items())

    def __getattr__(self, name: str) -> Any:  # encodevalue, _data, ... for stdlib code
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return f"environ({dict(self.items())!r})"


def install(ch: Any) -> None:
    ch.set(os, "environ", RecordedEnviron(ch, os.environ))
    for name in ("getpid", "getppid"):
        real = getattr(os, name)

        def pid(real: Any = real, kind: str = f"os.{name}") -> int:
            if interlace_calling(1):
                return real()
            return ch.leaf(kind, real)

        pid.__name__ = name
        ch.set(os, name, pid)
