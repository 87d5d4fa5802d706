"""What a report's run keeps of a long execution's trace: its last events, and its events up to a cut.

A report analyses at most the last REPORT_WINDOW events of the trace it shows (report/analysis.py):
for a run that fails at its end, the end of its trace; for a run that fails with a race only, the run up
to the first step like the race's second access after one like its first (``race_end``), usually early
in a long run. The run for the report kept every event for that: readerwriterlock's stress test under
``pytest --interlace``, 7.2 million steps, peaked at 2.8 GB. A :class:`TraceTail` keeps the last ``keep``
events, counts the others by kind (a report counts the steps it does not show), and, given the race's
two steps, keeps a copy of itself as it was at that cut, so the report is the one the whole trace gave.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any

#: the trace events a report analyses (report.analysis.WINDOW), and so what a TraceTail keeps at least
REPORT_WINDOW = 5000

#: (tid, kind, (file, line)): what a race's access looks like in the trace
Step = tuple


def step_of(event: Any) -> Step | None:
    return None if event.site is None else (event.tid, event.kind, tuple(event.site[:2]))


def race_steps(race: Any, threads: list[str]) -> tuple[Step, Step]:
    """The steps like the race's first and second access, for ``threads`` (the execution's names)."""
    tids = {name: tid for tid, name in enumerate(threads)}

    def like(access: Any) -> Step:
        return tids.get(access.thread), access.kind, tuple(access.site[:2])

    return like(race.previous), like(race.current)


class TraceTail:
    """A trace of which only the last ``keep`` events are kept; ``len()`` is the number of events it
    had, indexes and slices are positions in the whole trace (those of events no longer kept give
    nothing). With ``until`` (two steps), :attr:`cut` is the tail as it was after the first event like
    the second step that followed one like the first, and :attr:`cut_at` that event's position + 1."""

    __slots__ = ("events", "keep", "total", "dropped", "until", "cut_at", "_cut", "_first_seen")

    def __init__(self, keep: int = REPORT_WINDOW, until: tuple[Step, Step] | None = None) -> None:
        self.events: deque = deque(maxlen=keep)
        self.keep = keep
        self.total = 0
        self.dropped: dict[str, int] = {}  # kind -> events no longer kept
        self.until = until
        self.cut_at: int | None = None
        self._cut: TraceTail | None = None
        self._first_seen = False

    def append(self, event: Any) -> None:
        if self.cut_at == self.total and self._cut is None:
            self._cut = self._copy()  # (once the cut's last event has its value: see Execution.observe)
        events = self.events
        if len(events) == self.keep:
            kind = events[0].kind
            self.dropped[kind] = self.dropped.get(kind, 0) + 1
        events.append(event)
        self.total += 1
        if self.until is not None and self.cut_at is None:
            step = step_of(event)
            if step is not None:
                if self._first_seen and step == self.until[1]:
                    self.cut_at = self.total
                self._first_seen = self._first_seen or step == self.until[0]

    @property
    def cut(self) -> TraceTail | None:
        if self.cut_at is None:
            return None
        return self._cut if self._cut is not None else self

    def _copy(self) -> TraceTail:
        copy = TraceTail(self.keep)
        copy.events.extend(self.events)
        copy.total = self.total
        copy.dropped = dict(self.dropped)
        return copy

    def kept_from(self) -> int:
        """The position of the first event kept."""
        return self.total - len(self.events)

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0

    def __iter__(self) -> Any:
        return iter(self.events)

    def __reversed__(self) -> Any:
        return reversed(self.events)

    def __getitem__(self, index: Any) -> Any:
        first = self.kept_from()
        if isinstance(index, slice):
            if index.start is None and index.step is None and index.stop is not None and index.stop == self.cut_at:
                return self.cut
            start, stop, step = index.indices(self.total)
            if step != 1:
                raise ValueError("a TraceTail slices with step 1 only")
            return list(islice(self.events, max(start - first, 0), max(stop - first, 0)))
        position = index + self.total if index < 0 else index
        if not first <= position < self.total:
            raise IndexError(f"trace position {index} is not kept")
        return self.events[position - first]

    def __setitem__(self, index: int, event: Any) -> None:
        if index != -1:
            raise IndexError("a TraceTail replaces its last event only")
        self.events[-1] = event
