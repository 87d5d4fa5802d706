"""Portfolio: DPOR on every other execution, randomized strategies taking turns on the others.

1. Executions 0, 2, 4, ... go to optimal DPOR (see ``strategies/dpor``) for as long as it has classes
   left: it finds the bugs that need many preemptions at exact places, which no randomized strategy
   reaches in thousands of executions (``counter_minimum`` of the bug corpus: a lost update down to
   the minimum, four preemptions); and when it has run every class without a failure the whole
   exploration stops, a proof (``begin`` returns False: ``result.exhausted``).
2. Executions 1, 3, 5, ... go in turn to PCT with depth 3, POS, PCT with depth 2 and a random walk:
   they find the bugs of long executions with many threads sooner than DPOR's depth-first order does
   (``dining_philosophers_5``). Member ``k`` runs its execution number ``index // 2 // 4`` (seeded
   from it), so each of their executions is a function of (seed, index) like any randomized
   strategy's; DPOR's executions depend on the DPOR executions before them (systematic exploration
   is sequential).

Measured on the bug corpus against every single strategy: see docs/strategies.md.
"""

from __future__ import annotations

from typing import Any

from .base import Strategy
from .dpor import DPOR
from .pct import PCT
from .pos import POS
from .random_walk import RandomWalk


class Portfolio(Strategy):
    name = "portfolio"

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.dpor = DPOR(seed)
        self.members: list[Strategy] = [PCT(seed, depth=3), POS(seed + 1), PCT(seed + 2, depth=2),
                                        RandomWalk(seed + 3)]
        self.active: Strategy = self.dpor
        self.dpor_runs = 0

    def begin(self, index: int) -> bool:
        if index % 2 == 0:
            if not self.dpor.begin(self.dpor_runs):
                return False  # every class ran without a failure
            self.active = self.dpor
            self.dpor_runs += 1
            return True
        turn, k = divmod(index // 2, len(self.members))
        self.active = self.members[k]
        self.active.begin(turn)
        return True

    @property
    def hidden_sync(self) -> Any:
        """What the trace leaves out, for DPOR's executions only (see runtime/locks.py)."""
        return self.dpor.hidden_sync if self.active is self.dpor else None

    @property
    def needs_trace(self) -> bool:
        return self.active is self.dpor

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
        return self.dpor.coverage() if self.dpor.done else None

    def describe(self) -> str:
        return "portfolio(dpor, pct(depth=3), pos, pct(depth=2), random)"
