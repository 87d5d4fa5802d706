"""DFS on several workers: its tree split into units, the answer of one worker.

A DFS walk (see :mod:`interlace.strategies.dfs`) leaves the first execution's path at one first
non-default choice per execution; the subtree below each such choice is a *unit*, and units are
independent. Every worker runs the first execution; then, iteration after iteration of the
iterative bounding, each walks the units' parts it claims: whichever worker reaches a part first
(a shared counter of the parts claimed, in walk order), so the shares balance themselves whatever
the units cost or the machine's load. A worker that claims a unit another walked in an earlier
iteration first walks it again through those iterations, unreported, to build its tree (*catching
up*: a unit's part of an iteration is usually many times its parts before). On a Dask cluster
(:mod:`.dask_tree`) there is no shared counter: worker ``w`` of ``n`` walks the units
``u % n == w``, whose trees then never move. Each execution is reported by its position
(iteration, unit, offset); the positions order the executions exactly as one worker runs them, so
this process, the coordinator, counts them in that order: an execution's index is the number of
executions before its position.

What the workers tell the coordinator, in the order of their positions: every unit's executions of
an iteration (:class:`Segment`, with their estimates, for the coverage), the end of each iteration
they walked and whether it skipped a choice because of the bound (:class:`IterationEnd`: the next
iteration happens when any worker's did), failures and findings (:class:`Found`). From these the
coordinator knows how many executions come before any position once every worker has passed it
(or the worker that walked its unit's part said it left it).

The stop rule is the one of :mod:`.workers`, on positions: the shared limit is the first position
that does not count -- just past the lowest failure, or past the execution that spends the budget
(found from the workers' running positions as soon as the units before it are known). A worker
whose next position reaches the limit reports its unit's part so far and stops; one running a unit
wholly past the limit is stopped at once (nothing of that unit counts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..strategies.dfs import DFS
from .workers import Lane, LaneEnd, LocalWorkers, Outcome, _Merged, outcome

__all__ = ["TreeTally", "TreeWorkers", "walk_share"]

_OFFSET = 32  # bits of an execution's offset in its unit's part of an iteration, in an encoded position
_PAST = 2**62  # an iteration or a unit past every other


@dataclass
class Units:
    """How many units the first execution's path has (every worker finds the same number)."""

    count: int


@dataclass
class Segment:
    """The executions of ``unit`` (-1: the first execution) in ``iteration``, one estimate each: all of
    them (``complete``), or those run before the worker stopped."""

    iteration: int
    unit: int
    estimates: list[float] = field(default_factory=list)
    complete: bool = True


@dataclass
class IterationEnd:
    """Worker ``worker`` walked its units through ``iteration``; ``last``: its walk ended there."""

    worker: int
    iteration: int
    pruned: bool
    last: bool


@dataclass
class Progress:
    """Worker ``worker`` begins the unit and iteration ``segment``: what it ran before is all told."""

    worker: int
    segment: tuple[int, int]


@dataclass
class Found:
    """A failure or findings at ``position`` (iteration, unit, offset)."""

    position: tuple[int, int, int]
    outcome: Outcome


def encode(position: tuple[int, int, int], units: int | None) -> int:
    """``position`` as one number, ordered as the positions are (the first execution's is 0)."""
    iteration, unit, offset = position
    return ((iteration * ((units or 0) + 1) + unit + 1) << _OFFSET) + offset


class TreeWorkers(LocalWorkers):
    """Local worker processes, each walking its units of the tree (:func:`walk_share`)."""

    def __init__(self, data: bytes, n: int) -> None:
        super().__init__(data, n, body=walk_share)

    def _stop_past(self) -> None:
        limit = self.limit.value >> _OFFSET  # the unit and iteration of the limit
        for w, proc in enumerate(self.procs):
            if not self.ended[w] and self.running[w] >> _OFFSET > limit:
                # a unit wholly past the limit: what it ran before was reported when it left its unit
                self.stopped[w] = True
                proc.terminate()


def walk_share(lane: Lane, w: int, n: int, limit: Any, taken: Any, running: Any, done: Any, conn: Any,
               started: float) -> None:
    """Worker ``w``'s walk: the first execution (reported by worker 0 only), then its units."""
    strat = lane.strategy
    assert isinstance(strat, DFS) and lane.session is not None
    strat.claim = _claims(strat, w, n, taken)
    job = lane.job
    units: int | None = None
    segment: tuple[int, int] | None = None
    estimates: list[float] = []
    told = 0  # iterations told
    ran = 0  # executions run, not counting those that catch up
    while True:
        more = strat.begin(ran)
        iteration, unit, offset = strat.position
        catching_up = strat.catching_up if more else None  # (then the position is the last one run)
        part = (iteration, unit) if catching_up is None else (strat.iteration, catching_up)
        moved = segment != part
        if segment is not None and (not more or moved):
            if segment[1] >= 0 or w == 0:
                conn.send(Segment(*segment, estimates))
            estimates = []
        if units is None and ran:  # the units are numbered once the first execution ran
            units = len(strat.units)
            conn.send(Units(units))
        while told < len(strat.iterations):
            number, pruned = strat.iterations[told]
            told += 1
            conn.send(IterationEnd(w, number, pruned, not more and told == len(strat.iterations)))
        if not more:
            return
        segment = part
        if moved:
            conn.send(Progress(w, segment))
        if catching_up is not None:  # another worker's executions, run again for the tree of the unit claimed
            running[w] = encode((*part, 0), units)
            if running[w] >= limit.value:
                return
            lane.session.run(strat, job.model, job.max_steps)  # (its findings are its first runner's)
            lane.unreported.append(-1)
            continue
        position = encode(strat.position, units)
        running[w] = position  # before the look at the limit: the coordinator stops a worker past it
        if (position >= limit.value or ran >= job.executions
                or job.time_limit is not None and time.perf_counter() - started > job.time_limit):
            if estimates:
                conn.send(Segment(*segment, estimates, complete=False))
            return
        ex = lane.session.run(strat, job.model, job.max_steps)
        ran += 1
        races, inversions = lane.session.new_findings()
        estimates.append(strat.estimates[-1])
        if unit < 0 and w != 0:  # everyone's first execution: worker 0 reports it
            lane.unreported.append(0)
            if ex.failure is not None:
                return
            continue
        lane.executions += 1
        done[w] = lane.executions
        out = outcome(position, ex, races, inversions, lane.session.handed_locks())
        if out is not None:
            conn.send(Found(strat.position, out))
        if ex.failure is not None:
            conn.send(Segment(*segment, estimates, complete=False))
            return


def _claims(strat: DFS, w: int, n: int, taken: Any) -> Callable[[int, int], bool]:
    """Worker ``w`` of ``n``'s :attr:`DFS.claim`: the units it walks. With ``taken`` (a shared counter,
    the parts of iterations before it are claimed), whichever worker reaches a unit's part first
    walks it, so the shares balance themselves whatever the units cost; without, the units
    ``u % n == w`` (a unit's tree then stays with one worker: nothing to catch up)."""
    if taken is None:
        return lambda iteration, unit: unit % n == w

    def claim(iteration: int, unit: int) -> bool:
        part = encode((iteration, unit, 0), len(strat.units)) >> _OFFSET
        with taken.get_lock():
            if taken.value > part:
                return False
            taken.value = part + 1
            return True

    return claim


class TreeTally:
    """What the workers of a split DFS reported, counted in the order one worker runs the executions.

    Plays :class:`~interlace.drivers.workers._Merged`'s part in the coordinator's loop and ends as
    one (:meth:`final`), with each execution's index, for the same conclusion as the other strategies.
    """

    def __init__(self, executions: int, n: int, dfs: DFS) -> None:
        self.budget, self.n, self.dfs = executions, n, dfs
        self.stop = 2**62  # encoded: positions from here on do not count (the workers' shared limit)
        self.units: int | None = None
        self.segments: dict[tuple[int, int], list[float]] = {}
        self.complete: set[tuple[int, int]] = set()
        self.passed: list[tuple[int, int]] = [(0, -1)] * n  # per worker: every unit's part before it is told
        self.claimed: dict[tuple[int, int], int] = {}  # (iteration, unit) -> the worker walking it
        self.walked: list[dict[int, bool]] = [{} for _ in range(n)]  # per worker: iteration -> pruned
        self.last: list[int | None] = [None] * n  # the iteration a worker's walk ended with
        self.found: list[Found] = []
        self.failed: Found | None = None
        self.ends: list[LaneEnd] = []
        self.cursor: tuple[int, int] | None = (0, -1)  # the first unit not yet counted (None: none left)
        self.before = 0  # executions before the cursor

    def add(self, item: Any) -> bool:
        """Note ``item``; True when it lowered :attr:`stop`."""
        if isinstance(item, Units):
            self.units = item.count
        elif isinstance(item, Segment):
            self.segments[(item.iteration, item.unit)] = item.estimates
            if item.complete:
                self.complete.add((item.iteration, item.unit))
        elif isinstance(item, Progress):
            self.passed[item.worker] = item.segment
            self.claimed[item.segment] = item.worker
        elif isinstance(item, IterationEnd):
            self.walked[item.worker][item.iteration] = item.pruned
            self.passed[item.worker] = (item.iteration, _PAST)
            if item.last:
                self.last[item.worker] = item.iteration
                self.passed[item.worker] = (_PAST, _PAST)
        elif isinstance(item, Found):
            position = encode(item.position, self.units)
            if item.outcome.failure is None:
                self.found.append(item)
            elif position < self.stop:
                self.failed, self.stop = item, position + 1
                return True
        elif isinstance(item, LaneEnd):
            self.ends.append(item)
        return False

    def watch(self, backend: Any) -> bool:
        """Count what is known in order; True when that shows where the budget ends (lowering :attr:`stop`)."""
        while self.cursor is not None:
            iteration, unit = self.cursor
            count = self._count(iteration, unit)
            if count is None:  # running, or not reached: its worker's position says how many of it ran
                walker = self.claimed.get((iteration, unit))
                running = -1 if walker is None else backend.running[walker]
                inside = running >> _OFFSET == encode((iteration, unit, 0), self.units) >> _OFFSET
                return self._spends(iteration, unit, running & ((1 << _OFFSET) - 1) if inside else 0)
            if self._spends(iteration, unit, count):
                return True
            following = self._next(self.cursor)
            if following is None:
                return False  # not known yet
            self.before += count
            self.cursor = following if following != "end" else None
        return False

    def _spends(self, iteration: int, unit: int, count: int) -> bool:
        """Whether ``count`` executions of this unit spend the budget: the limit is then set after the last."""
        if self.before + count < self.budget:
            return False
        limit = encode((iteration, unit, self.budget - self.before), self.units)
        if limit >= self.stop:
            return False
        self.stop = limit
        return True

    def _walked(self, worker: int, iteration: int) -> bool | None:
        """Whether ``worker`` walked ``iteration`` to its end (then its pruned flag is known), or walked
        no further (False); None while it may still walk it."""
        if iteration in self.walked[worker]:
            return True
        last = self.last[worker]
        return False if last is not None and last < iteration else None

    def _count(self, iteration: int, unit: int) -> int | None:
        """How many executions the unit has in ``iteration``, when all are told: its walker said it
        left it, or every worker is past it (then whoever walked it has told it, if anyone did)."""
        key = (iteration, unit)
        if key in self.complete or all(key < passed for passed in self.passed):
            return len(self.segments.get(key, ()))
        return None

    def _exists(self, iteration: int) -> bool | None:
        """Whether the walk has ``iteration`` (None: not known yet): the one before skipped a choice in
        some worker's units, and the bound allows another."""
        if iteration == 0:
            return True
        pruned = False
        for w in range(self.n):
            walked = self._walked(w, iteration - 1)
            if walked is None:
                return None
            pruned = pruned or walked and self.walked[w][iteration - 1]
        return self.dfs.continues(iteration - 1, pruned)

    def _next(self, cursor: tuple[int, int]) -> tuple[int, int] | str | None:
        """The unit after ``cursor`` in the walk's order, "end" after the last, None when not known yet."""
        iteration, unit = cursor
        if self.units is None:
            return None
        if unit + 1 < self.units:
            return (iteration, unit + 1)
        exists = self._exists(iteration + 1)
        if exists is None:
            return None
        return (iteration + 1, 0) if exists and self.units else "end"

    def final(self) -> _Merged:
        """Everything counted in order up to :attr:`stop`: a :class:`_Merged` with each execution's index."""
        merged = _Merged(self.budget)
        for end in self.ends:
            merged.add(end)
        index_of: dict[int, int] = {}
        estimates: list[float] = []
        cursor: tuple[int, int] | str | None = (0, -1)
        last_iteration = 0
        cut = False
        while isinstance(cursor, tuple):
            iteration, unit = cursor
            if (iteration, unit) not in self.segments and self._count(iteration, unit) is None:
                break  # not known (a worker interrupted): the executions before it are all there are
            for offset, estimate in enumerate(self.segments.get(cursor, ())):
                position = encode((iteration, unit, offset), self.units)
                if position >= self.stop:
                    cut = True
                    break
                index_of[position] = len(estimates)
                estimates.append(estimate)
                last_iteration = iteration
            if cut:
                break
            cursor = self._next(cursor)
        merged.executions = len(estimates)
        for found in self.found:
            index = index_of.get(encode(found.position, self.units))
            if index is not None:
                found.outcome.index = index
                merged.outcomes.append(found.outcome)
        failed = self.failed
        if failed is not None and encode(failed.position, self.units) in index_of:
            failed.outcome.index = index_of[encode(failed.position, self.units)]
            merged.failed = failed.outcome
            merged.stop = failed.outcome.index + 1
            return merged
        walked_all = cursor == "end" and len(estimates) < self.budget
        if walked_all:
            last = max(b for worker in self.walked for b in worker)
            pruned = any(worker.get(last, False) for worker in self.walked)
            merged.coverage = DFS.coverage_of(estimates, True, pruned, self.dfs.bound_of(last))
            merged.exhausted = Outcome(len(estimates), exhausted=True, coverage=merged.coverage)
        else:
            merged.coverage = DFS.coverage_of(estimates, False, False, self.dfs.bound_of(last_iteration))
        merged.stop = len(estimates)
        return merged
