"""Portfolio: a short systematic phase, then randomized strategies taking turns (as Coyote does).

1. Every other execution (the first one included) goes to an iterative-bounded DFS (preemption
   bound 0, then 1) until it has run ``dfs_budget`` executions or finished bound 1: bugs of one
   preemption are found within the first few dozen of its executions, and a program whose whole
   schedule space fits is proven free of failures (``begin`` returns False: ``result.exhausted``).
2. The other executions, and all of them after the DFS phase, go to PCT with depth 3, POS, PCT
   with depth 2 and a random walk, by index: execution ``i`` to member ``(i // 2) % 4``, which runs
   it as its own execution ``i``. Which member runs an execution, and how, depends on its index
   alone (and, for an even index in the DFS phase, on the DFS executions before it: see
   :meth:`Portfolio.requires`), so executions can be partitioned between workers.
"""

from __future__ import annotations

from typing import Any

from .base import Strategy
from .dfs import DFS
from .pct import CALIBRATION, PCT
from .pos import POS
from .random_walk import RandomWalk


class Portfolio(Strategy):
    name = "portfolio"
    partitionable = True

    def __init__(self, seed: int, dfs_budget: int = 100, dfs_bound: int = 1) -> None:
        super().__init__(seed)
        self.dfs_budget = dfs_budget
        self.dfs = DFS(seed, max_preemptions=None)
        self.dfs_bound = dfs_bound
        # member k's odd executions are 2k + 1 + 8m: a PCT member calibrates on its first ones
        self.members: list[Strategy] = [PCT(seed, depth=3, calibration=_odd_slots(0)), POS(seed + 1),
                                        PCT(seed + 2, depth=2, calibration=_odd_slots(2)), RandomWalk(seed + 3)]
        self.active: Strategy = self.dfs
        self.dfs_runs = 0
        self.dfs_over = False

    def requires(self, index: int) -> tuple[int, ...]:
        # the DFS's executions before an even index of its phase (each one continues the tree built
        # before it, and the phase's end depends on them), and the calibration of the index's member
        dfs = tuple(range(0, min(index, 2 * self.dfs_budget), 2)) if index % 2 == 0 else ()
        calibration = tuple(self.members[self._member(index)].requires(index))
        return tuple(sorted({*dfs, *calibration}))

    def _member(self, index: int) -> int:
        return (index // 2) % len(self.members)

    def begin(self, index: int) -> bool:
        # executions 0, 2, 4, ... go to the DFS while its phase lasts; the others to the members by index
        if not self.dfs_over and index % 2 == 0 and index < 2 * self.dfs_budget:
            if self.dfs_runs < self.dfs_budget and self.dfs.begin(self.dfs_runs):
                if self.dfs.bound is not None and self.dfs.bound <= self.dfs_bound:
                    self.active = self.dfs
                    self.dfs_runs += 1
                    return True
            elif self.dfs.done:
                return False  # the whole space has been run: nothing can fail
            self.dfs_over = True
        self.active = self.members[self._member(index)]
        self.active.begin(index)
        return True

    def thread_created(self, tid: int) -> None:
        self.active.thread_created(tid)

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        return self.active.choose(enabled, current, execution)

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        quantum = getattr(self.active, "quantum", None)
        return quantum(enabled, chosen, execution) if quantum is not None else 0

    def stayed(self, n: int) -> None:
        self.active.stayed(n)  # only called after a quantum, which only members that have one give

    def end(self, execution: Any) -> None:
        self.active.end(execution)

    def coverage(self) -> dict[str, Any] | None:
        if self.dfs.done:
            return self.dfs.coverage()
        return None

    def describe(self) -> str:
        return "portfolio(dfs, pct(depth=3), pos, pct(depth=2), random)"


def _odd_slots(member: int) -> tuple[int, ...]:
    return tuple(2 * member + 1 + 8 * m for m in range(CALIBRATION))
