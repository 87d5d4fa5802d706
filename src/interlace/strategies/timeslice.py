"""Random time slices: the running thread keeps the baton for a random number of decisions, then a
uniformly chosen enabled thread gets it -- an operating system's scheduler with a randomised, short
and growing quantum.

A uniform random walk switches at almost every decision, which a whole program (millions of shared
accesses, hundreds of threads) cannot afford: every switch is a hand-off between OS threads. Slices
make switches rare where they cost (long runs) and frequent where a short program needs them: slice
lengths are geometric with a mean that starts at 2 decisions and grows with the decisions made so
far, up to ``max_mean``. The race detector sees every access whatever the slices, so races are
reported from the first slices of a long run. Most decisions fall inside a slice and are taken by the
scheduler's fast path (see :meth:`quantum`). This is the default strategy of ``interlace run``.
"""

from __future__ import annotations

import math
from typing import Any

from .base import Strategy


class TimeSlice(Strategy):
    name = "timeslice"
    partitionable = True  # no state carries from one execution to the next

    def __init__(self, seed: int, max_mean: int = 1000, growth: int = 64) -> None:
        super().__init__(seed)
        self.max_mean = max_mean
        self.growth = growth  # the mean grows by one every ``growth`` decisions
        self.left = 0  # decisions left in the running thread's slice
        self.decided = 0

    def begin(self, index: int) -> bool:
        super().begin(index)
        self.left = 0
        self.decided = 0
        return True

    def _slice(self) -> int:
        mean = min(self.max_mean, 2 + self.decided // self.growth)
        u = self.rng.random()
        return 1 + int(math.log1p(-u) / math.log1p(-1.0 / mean)) if mean > 1 else 1

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        self.decided += 1
        if current is not None and self.left > 0:
            self.left -= 1
            return current
        tid = enabled[self.rng.randrange(len(enabled))]
        self.left = self._slice() - 1
        return tid

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        return self.left  # the slice's next decisions keep ``chosen`` while it can run

    def stayed(self, n: int) -> None:
        self.left -= n
        self.decided += n

    def describe(self) -> str:
        return f"timeslice(max_mean={self.max_mean})"
