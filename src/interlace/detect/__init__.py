"""Detectors: observers of an execution that report bugs even when the program does not fail.

- :mod:`.races`: happens-before data races (FastTrack-style vector clocks), with both stacks and a
  verdict on whether the race can manifest under the GIL of the running interpreter;
- :mod:`.lockorder`: lock-order inversions (potential deadlocks), lockdep-style.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .lockorder import LockInversion, LockOrderDetector
from .races import Race, RaceDetector


class Observer(Protocol):
    """What an execution calls on each of its observers (``Execution(observers=...)``).

    ``begin(ex)`` and ``end(ex)`` around each execution; ``sync(ex, kind, ts, obj)`` at each
    synchronisation (acquire, try-acquire, release, start, join, signal, wait); ``access(ex, ts, kind,
    obj, key, site, atomic)`` at each shared access not told since the thread's last switch or
    synchronisation. Optional attributes, read once per execution (``Execution._plan_calls``):

    - ``observes_accesses`` (default True): False, and ``access`` is never called;
    - ``sync_kinds`` (default None: all): the kinds of synchronisation ``sync`` does anything with,
      so that the C hooks skip the call for the others (an event loop makes a few per task step);
    - ``native_access`` / ``native_sync`` (default None): a C function doing the method's work,
      called as ``f(observer, *args)`` instead of it by the C hooks; it returns False when it declines,
      and the method is called then.
    """

    def begin(self, ex: Any) -> None: ...

    def end(self, ex: Any) -> None: ...

    def sync(self, ex: Any, kind: str, ts: Any, obj: Any) -> None: ...

    def access(self, ex: Any, ts: Any, kind: str, obj: Any, key: Any, site: tuple, atomic: bool) -> None: ...


#: (the type of ``native_access`` and ``native_sync``)
NativeCall = Callable[..., bool]

__all__ = ["LockInversion", "LockOrderDetector", "NativeCall", "Observer", "Race", "RaceDetector"]
