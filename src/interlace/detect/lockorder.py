"""Lock-order inversions (lockdep): two threads taking the same locks in opposite orders.

Whenever a thread acquires a lock while holding others, the order "held -> acquired" is recorded
with where each was taken; not for an acquire that could not wait (``blocking=False``, ``timeout=0``):
it fails instead of waiting, so it closes no cycle of waiting threads. When a new order closes a cycle
with orders recorded by other threads, the program can deadlock, even if this execution did not: that
is reported with both acquisition stacks.

A lock released by a thread other than the one that acquired it is a binary semaphore, not a mutex
(readerwriterlock's writer-preferring locks: the first writer takes ``read_try``, the last one releases
it): that a thread holds it says nothing about who can release it, so a cycle through it is no
deadlock (lockdep tracks no semaphore either). A cycle through a lock that its execution shows
released that way is not reported (by the end of the execution: the cycle may close before the first
such release). Nor is one through a lock that any execution of the exploration handed over: an
execution that happens not to hand it over (too short, or the order it ran) proves nothing about who
may release it. Each execution's detector knows its own releases (``handed``), so that what it
reports does not depend on which executions ran before it (``--workers`` splits them); the exploration
drops, at its end, the inversions through a lock handed over in any execution it counts
(``drivers.conclude.Run``, and the workers' coordinator, from each execution's labels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .stacks import Frame, capture, format_stack


@dataclass
class Edge:
    thread: str
    tid: int
    first: str  # label of the lock held
    second: str  # label of the lock acquired while holding it
    first_site: tuple | None
    second_site: tuple | None
    stack: tuple[Frame, ...]


@dataclass
class LockInversion:
    """A cycle in the lock order: ``edges[i].second`` is ``edges[i + 1].first``."""

    edges: list[Edge] = field(default_factory=list)
    execution: int | None = None

    def through(self, labels: set[str] | frozenset[str]) -> bool:
        """Whether the cycle goes through one of the locks named ``labels``."""
        return any(e.first in labels or e.second in labels for e in self.edges)

    def key(self) -> frozenset:
        return frozenset((e.first, e.second, _site(e.second_site)) for e in self.edges)

    def summary(self) -> str:
        parts = [f"{e.thread!r} takes {e.first} then {e.second}" for e in self.edges]
        return "POTENTIAL DEADLOCK (lock-order inversion): " + "; ".join(parts)

    def format(self) -> str:
        lines = [self.summary()]
        for e in self.edges:
            lines.append(f"  thread {e.thread!r} acquired {e.second} at {_site(e.second_site)} while holding "
                         f"{e.first} (acquired at {_site(e.first_site)}):")
            lines.append(format_stack(e.stack, "    "))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"edges": [{"thread": e.thread, "held": e.first, "acquired": e.second,
                           "held_at": _site(e.first_site), "acquired_at": _site(e.second_site)}
                          for e in self.edges]}


def _site(site: tuple | None) -> str:
    return f"{os.path.basename(site[0])}:{site[1]}" if site else "?"


class LockOrderDetector:
    """An execution observer; keeps the distinct inversions found across executions."""

    observes_accesses = False  # locks only: executions do not call it for every shared access
    sync_kinds = frozenset({"acquire", "try-acquire", "release"})  # what sync() looks at (detect.Observer)

    def __init__(self) -> None:
        self.inversions: list[LockInversion] = []
        self.seen: set[frozenset] = set()
        self._reset()

    def _reset(self) -> None:
        self.graph: dict[int, dict[int, Edge]] = {}
        self.labels: dict[int, Any] = {}
        self.acquired_at: dict[tuple[int, int], tuple | None] = {}
        self.handed: set[str] = set()  # labels of locks released by a thread that did not acquire them

    def begin(self, ex: Any) -> None:
        self._reset()
        self.inversions = []

    def end(self, ex: Any) -> None:
        handed = self.handed
        if handed and self.inversions:
            kept = []
            for inversion in self.inversions:
                if inversion.through(handed):
                    self.seen.discard(inversion.key())  # another execution may still report it
                else:
                    kept.append(inversion)
            self.inversions = kept

    def access(self, ex: Any, ts: Any, kind: str, obj: Any, key: Any, site: tuple, atomic: bool) -> None:
        pass

    def sync(self, ex: Any, kind: str, ts: Any, obj: Any) -> None:
        if kind == "release":
            owner = getattr(obj, "_owner", None)  # still the acquirer: observers are told before it changes
            # (by label, as the inversions name it: a lock whose creation is unknown, with a bare label,
            # is not told from the others that share it)
            if owner is not None and owner is not ts and "@" in getattr(obj, "label", ""):
                self.handed.add(obj.label)
            return
        if (kind != "acquire" and kind != "try-acquire") or getattr(obj, "internal", False) \
                or not getattr(obj, "tracked", True):
            return
        lock_id = id(obj)
        self.labels[lock_id] = obj
        self.acquired_at[(ts.tid, lock_id)] = ts.site
        if kind == "try-acquire":
            return  # it would have failed rather than wait: no thread can be stuck on it (lockdep's trylock)
        if len(ts.held) == 1 and ts.held[0] is obj:
            return  # the common case: no other lock held
        held = [h for h in ts.held if h is not obj and not getattr(h, "internal", False)]
        if not held:
            return
        stack = capture()
        for h in held:
            edges = self.graph.setdefault(id(h), {})
            if lock_id in edges:
                continue
            edge = Edge(ts.name, ts.tid, h.label, obj.label, self.acquired_at.get((ts.tid, id(h))), ts.site,
                        stack)
            edges[lock_id] = edge
            cycle = self._path(lock_id, id(h), ts.tid)
            if cycle is not None:
                self._report([edge, *cycle])

    def _path(self, start: int, goal: int, tid: int) -> list[Edge] | None:
        """Edges from ``start`` to ``goal`` recorded by threads other than ``tid`` (depth-first)."""
        stack: list[tuple[int, list[Edge]]] = [(start, [])]
        visited = {start}
        while stack:
            node, path = stack.pop()
            for nxt, edge in self.graph.get(node, {}).items():
                if edge.tid == tid or nxt in visited and nxt != goal:
                    continue
                if nxt == goal:
                    return path + [edge]
                visited.add(nxt)
                stack.append((nxt, path + [edge]))
        return None

    def _report(self, edges: list[Edge]) -> None:
        inversion = LockInversion(edges)
        if inversion.through(self.handed):
            return
        key = inversion.key()
        if key in self.seen:
            return
        self.seen.add(key)
        self.inversions.append(inversion)
