"""PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010).

Each thread gets a random priority; the highest-priority enabled thread always runs. At ``depth - 1``
change points, chosen uniformly among the decisions of an execution that can preempt the running
thread (scheduling points where it and another thread could run; their number is learnt from the
first ``CALIBRATION`` executions, so that every execution depends on (seed, index) and those alone,
and can run on any worker), the running thread drops to a
priority below every initial one. A bug of depth ``d`` is found with probability at least
``1 / (n * k**(d-1))`` per execution for ``n`` threads and ``k`` steps.

Spin loops defeat strict priorities (the spinning thread never lets the others set its flag), so a
thread that has run ``spin_limit`` consecutive steps while others were enabled is demoted, as if it
had yielded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Strategy

#: the executions (0, 1, ...) PCT learns the number of preemptible decisions from
CALIBRATION = 8


class PCT(Strategy):
    name = "pct"
    partitionable = True

    def __init__(self, seed: int, depth: int = 3, spin_limit: int = 64,
                 calibration: Sequence[int] = range(CALIBRATION)) -> None:
        super().__init__(seed)
        if depth < 1:
            raise ValueError("PCT depth must be at least 1")
        self.depth = depth
        self.spin_limit = spin_limit
        # the executions whose numbers of preemptible decisions the later ones learn from
        self.calibration = tuple(calibration)
        self.steps_estimate = 20  # the first guess of the decisions that can preempt
        self.learnt: dict[int, int] = {}  # calibration execution -> its preemptible decisions
        self.index = 0
        self.preemptible = 0
        self.priorities: dict[int, float] = {}
        self.change_points: list[int] = []
        self.low = 0.0

    def requires(self, index: int) -> tuple[int, ...]:
        return tuple(j for j in self.calibration if j < index)

    def begin(self, index: int) -> bool:
        super().begin(index)
        self.index = index
        self.priorities = {}
        # what the calibration executions before this one learnt, whatever else this instance ran
        k = max(self.steps_estimate, *(self.learnt[j] for j in self.requires(index)), 1)
        self.change_points = sorted(self.rng.randint(1, k) for _ in range(self.depth - 1))
        self.low = 0.0
        self.preemptible = 0
        return True

    def thread_created(self, tid: int) -> None:
        self.priorities[tid] = self.depth + self.rng.random()

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        prio = self.priorities
        if current is not None:
            # change points are counted among the decisions that can preempt someone
            self.preemptible += 1
            while self.change_points and self.preemptible >= self.change_points[0]:
                self.change_points.pop(0)
                self.low -= 1.0
                prio[current] = self.depth - 1 + self.low / 1000.0
        if current is not None and execution.threads[current].run_length >= self.spin_limit:
            self.low -= 1.0
            prio[current] = self.low
        return max(enabled, key=lambda tid: prio.get(tid, 0.0))

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        # The k-th next decision keeps ``chosen`` unless it reaches a change point or the spin limit:
        # priorities change nowhere else while the enabled threads stay the same. The scheduler counts
        # run_length after this call: +1 if ``chosen`` was already running (the k-th decision sees
        # run_length + k), reset to 0 on a switch (it sees k - 1).
        running = execution.current
        if running is not None and running.tid == chosen:
            spin_left = self.spin_limit - execution.threads[chosen].run_length - 1
        else:
            spin_left = self.spin_limit
        if self.change_points:
            spin_left = min(spin_left, self.change_points[0] - self.preemptible - 1)
        return max(spin_left, 0)

    def stayed(self, n: int) -> None:
        self.preemptible += n

    def end(self, execution: Any) -> None:
        if self.index in self.calibration:
            self.learnt[self.index] = self.preemptible

    def describe(self) -> str:
        return f"pct(depth={self.depth})"
