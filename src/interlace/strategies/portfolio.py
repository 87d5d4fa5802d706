"""Portfolio (the default of ``explore``): DPOR on every third execution, randomized strategies taking
turns on the others.

1. Executions 0, 3, 6, ... go to optimal DPOR (see ``strategies/dpor``) for as long as it has classes
   left: it finds the bugs that need many preemptions at exact places, which no randomized strategy
   reaches in thousands of executions (``counter_minimum`` of the bug corpus: a lost update down to
   the minimum, four preemptions); and when it has run every class without a failure the whole
   exploration stops, a proof (``begin`` returns False: ``result.exhausted``).
2. The other executions go in turn to PCT with depth 3, PCT with depth 2 counting its change point
   among the decisions before a lock acquire only (``at_acquires``), POS and PCT with depth 3 whose
   priorities go by age (``newest_first``: the main thread first, then the newest thread): they find
   the bugs of long executions with many threads sooner than DPOR's depth-first order does
   (``reorder``, ``dining_philosophers_5``: the PCT at acquires finds the latter on every seed, the
   plain PCT(2) it replaced on 3 of 5 within 5,000 executions). The newest-first PCT replaced a second
   PCT(3) with random priorities: ``reorder_20`` and ``reorder_50`` (a checker started last must read
   before the first of 19 or 49 setters finishes) need every setter held at its first step while the
   main thread starts the next, which random priorities give once in 19! or 49! orders; the default
   now finds them on every seed (median 396 and 750 executions of 5,000), loses no other bug, and its
   worst case stays ``counter_minimum``'s 2,848 (docs/strategies.md).

Which member runs an execution, and as which of its own executions, is computed from the index alone.
A randomized member's execution is then a function of (seed, index) and of its calibration executions;
a DPOR execution depends on the DPOR executions before it (systematic exploration is sequential).
:meth:`Portfolio.requires` names both, so executions can be partitioned between workers; the DPOR
executions are chain 0 (:meth:`Portfolio.chain`): one worker runs them all.

On long programs DPOR explores only the first events of each execution (its horizon, see
``strategies/dpor``): running every class of those prefixes proves nothing about the whole program,
so the exploration goes on, and the executions that were DPOR's go to one more PCT member (depth 3,
its own priorities), which counts its own executions (it is in DPOR's chain: one worker runs them in
order, after the DPOR executions that decide where it starts).

The shares were chosen by measurement on the bug corpus (docs/strategies.md): DPOR on every other
execution took longer on ``dining_philosophers_5``, on every third it still finds ``counter_minimum``
(at execution 2,848); a random walk member found nothing the PCT members did not find sooner.
"""

from __future__ import annotations

from typing import Any

from .base import Strategy
from .dpor import DPOR
from .dpor.strategy import HORIZON
from .pct import PCT
from .pos import POS


class Portfolio(Strategy):
    name = "portfolio"
    partitionable = True

    def __init__(self, seed: int, horizon: int = HORIZON) -> None:
        super().__init__(seed)
        self.dpor = DPOR(seed, horizon)
        self.members: list[Strategy] = [PCT(seed, depth=3), PCT(seed + 2, depth=2, at_acquires=True),
                                        POS(seed + 1), PCT(seed + 3, depth=3, newest_first=True)]
        self.active: Strategy = self.dpor
        # what runs the DPOR executions once DPOR ran every class of its prefixes (see above)
        self.after = PCT(seed + 4, depth=3)
        self.after_runs = 0

    def _member(self, index: int) -> tuple[int, int]:
        """(member, its own execution number) of a randomized execution ``index`` (not a multiple of 3)."""
        turn, k = divmod(index - index // 3 - 1, len(self.members))
        return k, turn

    def _index(self, member: int, turn: int) -> int:
        """The inverse of :meth:`_member`."""
        j = turn * len(self.members) + member
        return j + j // 2 + 1

    def member_for(self, index: int) -> str:
        """Which member runs execution ``index`` (0-based), as :meth:`describe` names it: for the
        benchmark's "which member found it". DPOR's turns are named "dpor" (once DPOR ran every class of
        its prefixes, they go to the extra PCT member: not known from the index alone)."""
        if index % 3 == 0:
            return "dpor"
        return self.members[self._member(index)[0]].describe()

    def requires(self, index: int) -> tuple[int, ...]:
        if index % 3 == 0:
            return tuple(range(0, index, 3))  # the DPOR executions before it
        k, turn = self._member(index)
        return tuple(self._index(k, t) for t in self.members[k].requires(turn))

    def chain(self, index: int) -> int | None:
        return 0 if index % 3 == 0 else None

    def begin(self, index: int) -> bool:
        if index % 3 == 0:
            if self.dpor.begin(index // 3):
                self.active = self.dpor
                return True
            if not self.dpor.cut_any:
                return False  # every class ran without a failure: a proof
            self.active = self.after
            self.after.begin(self.after_runs)
            self.after_runs += 1
            return True
        k, turn = self._member(index)
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

    @property
    def trace_horizon(self) -> int | None:
        return self.dpor.trace_horizon if self.active is self.dpor else None

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
        """DPOR's, when it ran every class of whole executions (a proof); else None."""
        return self.dpor.coverage() if self.dpor.done and not self.dpor.cut_any else None

    def describe(self) -> str:
        return f"portfolio(dpor, {', '.join(m.describe() for m in self.members)})"
