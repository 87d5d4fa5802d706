"""POS, partial order sampling (Yuan, Yang and Gu, CAV 2018).

A random walk picks a thread uniformly at every step, so a thread that does many steps before a bug's
window is almost always interleaved early: the walk is biased toward some partial orders. POS gives
every *pending operation* a random priority and runs the enabled thread whose pending operation has
the highest one. When an operation runs, the pending operations that conflict with it (see
:func:`~interlace.strategies.dependence.dependent`) get fresh priorities: their order relative to
what just happened is drawn again. Each partial order of a program gets a probability that does not
shrink with the length of the threads as a random walk's does.
"""

from __future__ import annotations

from typing import Any

from .base import Strategy
from .dependence import dependent


class POS(Strategy):
    name = "pos"
    partitionable = True  # no state carries from one execution to the next

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.priority: dict[int, tuple[Any, float]] = {}  # tid -> (its pending operation, priority)

    def begin(self, index: int) -> bool:
        super().begin(index)
        self.priority = {}
        return True

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        threads = execution.threads
        rng = self.rng
        prio = self.priority
        ops = {}
        for tid in enabled:
            ts = threads[tid]
            op = (ts.pending, ts.pending_what, ts.site, ts.run_length)
            ops[tid] = op
            known = prio.get(tid)
            if known is None or known[0] != op:
                prio[tid] = (op, rng.random())
        tid = max(enabled, key=lambda t: prio[t][1])
        chosen = ops[tid][:2]
        for other in enabled:
            if other != tid and dependent(chosen, ops[other][:2]):
                prio[other] = (ops[other], rng.random())
        del prio[tid]
        return tid
