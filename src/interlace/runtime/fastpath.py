"""The state a scheduling point needs when nothing is to be decided: the scheduler's fast path.

Most scheduling points of a long run decide nothing: only one thread can run, or the strategy said
how many decisions in a row it would give to the running thread (``Strategy.quantum``). Such a point
is a few counter updates, and the access behind it is told to the detectors only if it is new since
the last switch or synchronisation. This object holds exactly that state, apart from the
:class:`~interlace.runtime.execution.Execution` it belongs to, so that the native accelerator
(:mod:`interlace._speedups`, when built) can implement the same points in C on the same fields; the
pure-Python :class:`FastPath` below is the reference and the fallback.

Invariants (the baton holder is the only writer, except ``ident``, set under the execution's mutex):

- ``ident`` is the OS thread ident of the baton holder (None when nobody holds it).
- ``budget`` > 0 only while nothing changed who can run since it was granted; ``granted`` is what was
  granted, so ``granted - budget`` points were taken by the fast path since the last slow one.
- ``decides``: those points are decisions of the strategy (several threads could run).
- ``loops`` counts the holder's loop back-edges since the last scheduling point of any thread.
- ``step`` counts scheduling points and back-edges; ``progress_at`` is the step of the last progress
  (see ``LIVELOCK_WINDOW``); ``gil_points`` counts the points where a GIL could switch threads (calls,
  back-edges) that the holder passed since it got the baton, ``back_edges`` its loop back-edges and
  ``accesses`` its shared accesses (told to the observers or not) since then: all three are added to
  its ThreadState when it loses the baton.
- ``handed`` (0: none): an event loop handed the baton to one of its units with no decision, and no
  point has been taken since (:meth:`Execution.choose_unit`); while the step stays at most ``handed``,
  that unit's first point may be made in C as the slow path would make it (``interlace._speedups``'s
  ``first_point``). Any change of who can run, grant or end of the budget, or hand-off clears it.
- ``told`` maps ``(id(obj), key, kind, site, atomic)`` of the accesses told to the access observers
  since the last switch or synchronisation to ``type(obj)``: an entry counts only for an object of that
  type at that address. It holds no reference, strong or weak, to a program object (a program could
  see a weak one: ``__weakref__``, ``getweakrefcount``); keys are names or keys the program also holds.
"""

from __future__ import annotations

from typing import Any


class FastPath:
    __slots__ = ("ident", "budget", "granted", "decides", "step", "progress_at", "loops", "gil_points",
                 "accesses", "back_edges", "handed", "limit", "free_threaded", "trace", "observe", "told")

    def __init__(self, free_threaded: bool, trace: bool, observe: bool, limit: float) -> None:
        self.ident: int | None = None
        self.budget = 0
        self.granted = 0
        self.decides = False
        self.step = 0
        self.progress_at = 0
        self.loops = 0
        self.gil_points = 0
        self.accesses = 0
        self.back_edges = 0
        self.handed = 0
        self.limit = limit  # the step bound (inf: none)
        self.free_threaded = free_threaded
        self.trace = trace
        self.observe = observe
        self.told: dict[tuple, Any] = {}

    def taken(self) -> int:
        """Points taken by the fast path since the budget was granted."""
        return self.granted - self.budget


#: the interface version of interlace._speedups this code expects (its ``API`` constant)
NATIVE_API = 7


#: the keys a told entry may hold: their hash and equality run no program code, and holding them keeps
#: no program object alive (a dict key that is a program object is told every time instead)
PLAIN_KEYS = frozenset({str, int, float, bool, bytes, type(None)})


def plain_key(key: Any) -> bool:
    tk = type(key)
    return tk in PLAIN_KEYS or tk is tuple and all(type(k) in PLAIN_KEYS for k in key)


def native() -> Any:
    """The native accelerator's module, or None (not built, built from another version of the
    source -- a stale in-place build --, or ``INTERLACE_PURE=1``)."""
    import os

    if os.environ.get("INTERLACE_PURE"):
        return None
    try:
        from .. import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_speedups, "API", None) != NATIVE_API:
        return None
    return _speedups
