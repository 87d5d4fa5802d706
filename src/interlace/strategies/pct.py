"""PCT, probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010).

Each thread gets a random priority; the highest-priority enabled thread always runs. At ``depth - 1``
change points, chosen uniformly among the decisions of an execution that can preempt the running
thread (scheduling points where it and another thread could run; their number is learnt from the
first ``CALIBRATION`` executions, so that every execution depends on (seed, index) and those alone,
and can run on any worker), the running thread drops to a priority below every priority given so far.
A bug of depth ``d`` is found with probability at least ``1 / (n * k**(d-1))`` per execution for ``n``
threads and ``k`` steps.

Spin loops defeat strict priorities (the spinning thread never lets the others set its flag), so a
thread that has run a number of consecutive steps while others were enabled is demoted, as if it had
yielded. A fixed limit starves the bugs that sit at the end of a long run without a switch (a loop of
200 reads, then an unlocked update): the thread is always demoted first, at the same place. So the
limit of each execution is drawn: ``spin_limit`` times a power of two up to ``2**spin_doublings``
(64 to 4,096 by default), from the execution's own random numbers.

``at_acquires=True`` counts the change points among the decisions where the running thread is about to
acquire a lock of the program (not every decision): a deadlock or an atomicity violation between
critical sections needs its preemptions exactly there, and they are a few of the decisions (10 of
about 60 in ``dining_philosophers_5``, where this finds the deadlock about ten times sooner). Which of
the coming decisions are acquires is known only when they come, so such an execution is asked at every
decision until its last change point. The calibration executions are asked at every decision (to
count the acquires); the first of them, and an execution after calibration executions that saw no
acquire (a lock-free program), get the change points of the default, as does a longer program (more
than ``AT_ACQUIRES_UP_TO`` preemptible decisions in the first execution; at 80,000 decisions, being
asked at all of them made an execution five times as costly as the default's).

``newest_first=True`` gives the priorities by age instead of at random: the main thread above all, then
the other threads, the newest first (the change points stay random). Started threads then wait at their
first step while the main thread starts the others (``Thread.start()`` returns once the new thread's
handshake ran: the newest thread runs it, the older ones are below it), and once the main thread waits,
the last one started runs first. That is the order of SCTBench's ``reorder_50`` (``bench/corpus``): 49
setters store ``a`` then ``b``, a checker started last must read between the first ``a`` and the first
``b`` of all of them, so while the main thread waits for the handshake of setter *k*, no older setter
may be above it: with random priorities that is one order of the setters among 49!, and PCT, POS and the
random walk did not fail it in 5,000 executions. With these priorities it takes one change point on the
checker's step between its two reads, one of about 250 decisions (26 executions with seed 1).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .base import Strategy

#: the executions (0, 1, ...) PCT learns the number of preemptible decisions from
CALIBRATION = 8
#: preemptible decisions of its first execution up to which ``at_acquires`` counts at acquires only
AT_ACQUIRES_UP_TO = 5_000


class PCT(Strategy):
    name = "pct"
    partitionable = True

    def __init__(self, seed: int, depth: int = 3, spin_limit: int = 64, spin_doublings: int = 6,
                 calibration: Sequence[int] = range(CALIBRATION), at_acquires: bool = False,
                 newest_first: bool = False) -> None:
        super().__init__(seed)
        if depth < 1:
            raise ValueError("PCT depth must be at least 1")
        self.depth = depth
        self.at_acquires = at_acquires
        self.newest_first = newest_first
        self.spin_limit = spin_limit
        self.spin_doublings = spin_doublings
        self.limit = spin_limit  # this execution's spin limit
        # the executions whose numbers of preemptible decisions the later ones learn from
        self.calibration = tuple(calibration)
        self.steps_estimate = 20  # the first guess of the decisions that can preempt
        self.learnt: dict[int, int] = {}  # calibration execution -> its preemptible decisions
        self.learnt_acquires: dict[int, int] = {}  # calibration execution -> those before an acquire
        self.by_acquires = False  # this execution counts change points at acquires only
        self.counting = False  # this execution counts the decisions before an acquire exactly
        self.acquires = 0
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
        before = self.requires(index)
        # at acquires once a calibration execution saw an acquire, unless the first one had more than
        # AT_ACQUIRES_UP_TO decisions (see the module's docstring); a calibration execution counts them
        short = not before or self.learnt[before[0]] <= AT_ACQUIRES_UP_TO
        self.by_acquires = self.at_acquires and short and any(self.learnt_acquires[j] for j in before)
        self.counting = self.at_acquires and short and index in self.calibration
        learnt = self.learnt_acquires if self.by_acquires else self.learnt
        k = max(self.steps_estimate, *(learnt[j] for j in before), 1)
        self.change_points = sorted(self.rng.randint(1, k) for _ in range(self.depth - 1))
        # drawn apart from the priorities and change points, which stay those of the fixed limit
        self.limit = self.spin_limit << random.Random(f"{self.seed}/{index}/spin").randint(0, self.spin_doublings)
        self.low = 0.0
        self.preemptible = 0
        self.acquires = 0
        return True

    def thread_created(self, tid: int) -> None:
        if self.newest_first:
            # the main thread above all, then the threads by age, the newest first (see the docstring)
            self.priorities[tid] = self.depth + (1.0 if tid == 0 else tid / (tid + 1))
        else:
            self.priorities[tid] = self.depth + self.rng.random()

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        prio = self.priorities
        if current is not None:
            # change points are counted among the decisions that can preempt someone
            self.preemptible += 1
            if self.at_acquires and _acquiring(execution.threads[current]):
                self.acquires += 1
            counted = self.acquires if self.by_acquires else self.preemptible
            demote = False
            while self.change_points and counted >= self.change_points[0]:
                self.change_points.pop(0)
                demote = True
            if demote or execution.threads[current].run_length >= self.limit:
                # below every priority so far, spin-demoted threads included: a change point after a
                # spin demotion must still preempt
                self.low -= 1.0
                prio[current] = self.low
        return max(enabled, key=lambda tid: prio.get(tid, 0.0))

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        # The k-th next decision keeps ``chosen`` unless it reaches a change point or the spin limit:
        # priorities change nowhere else while the enabled threads stay the same. The scheduler counts
        # run_length after this call: +1 if ``chosen`` was already running (the k-th decision sees
        # run_length + k), reset to 0 on a switch (it sees k - 1).
        if self.counting or (self.by_acquires and self.change_points):
            return 0  # which of the next decisions are acquires is known only when they come
        running = execution.current
        if running is not None and running.tid == chosen:
            spin_left = self.limit - execution.threads[chosen].run_length - 1
        else:
            spin_left = self.limit
        if self.change_points:
            spin_left = min(spin_left, self.change_points[0] - self.preemptible - 1)
        return max(spin_left, 0)

    def stayed(self, n: int) -> None:
        self.preemptible += n  # counted at acquires, a quantum skips decisions only once none count

    def end(self, execution: Any) -> None:
        if self.index in self.calibration:
            self.learnt[self.index] = self.preemptible
            self.learnt_acquires[self.index] = self.acquires

    def describe(self) -> str:
        return f"pct(depth={self.depth}{', at acquires' if self.at_acquires else ''}" \
               f"{', newest first' if self.newest_first else ''})"


def _acquiring(ts: Any) -> bool:
    """Is thread ``ts`` at the scheduling point before an acquire of a lock of the program's own (not
    an internal lock of the standard library's: an Event's, a Queue's, a thread start's handshake)?"""
    lock = ts.pending_lock
    return lock is not None and not getattr(lock, "internal", False)
