"""What an exploration found, made into its :class:`Result`: a failure (shrunk) or the end of the
budget (with the first race, when races fail).

Shared by :func:`interlace.explore` and the coordinator of workers (:mod:`.workers`), so that a
failure found at execution ``k`` is reported the same way whoever ran execution ``k``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..runtime.execution import HANG_GUARD
from ..runtime.state import Failure
from ..runtime.tracetail import TraceTail, race_steps
from ..runtime.watchdog import interrupt_requested
from ..schedule import Schedule
from .result import ExplorationInterrupted, Result
from .session import EPOCH, Session


@dataclass
class Run:
    """What every Result of one exploration says the same way: its options and its findings so far."""

    seed: int
    strategy: str  # the strategy's description
    model: str
    max_steps: int | None
    target: dict[str, Any]
    started: float
    races: list = field(default_factory=list)
    inversions: list = field(default_factory=list)
    #: (index, choices, trace, thread names) of the first execution with a race or inversion that fails
    first_finding: tuple | None = None
    hang_guard: float | None = HANG_GUARD
    #: the labels of the locks some execution handed over from one thread to another: no inversion
    #: through them is reported (detect/lockorder.py), whichever execution found it
    handed: set = field(default_factory=set)
    #: the executions that may be the first finding once every handed-over lock is known: (index, choices,
    #: trace, thread names, whether a race of it fails, its inversions), up to the first with a failing race
    _found: list = field(default_factory=list)

    def schedule(self, choices: list[int], index: int, failure: str) -> Schedule:
        return Schedule(choices=list(choices), model=self.model, max_steps=self.max_steps, epoch=EPOCH,
                        strategy=self.strategy, seed=self.seed, execution=index, target=dict(self.target),
                        failure=failure, hang_guard=self.hang_guard)

    def note_findings(self, index: int, races: list, inversions: list, ex: Any,
                      handed: frozenset[str] = frozenset()) -> None:
        """Races and inversions first seen by execution ``index`` (``ex``), and the locks it handed over."""
        for item in (*races, *inversions):
            item.execution = index
        self.races += races
        self.inversions += inversions
        fails = any(r.fails for r in races)
        if (fails or inversions) and not (self._found and self._found[-1][4]):
            self._found.append((index, list(ex.choices), ex.trace, [t.name for t in ex.threads], fails,
                                inversions))
        if handed - self.handed:
            self.handed |= handed
            self.inversions = [i for i in self.inversions if not i.through(self.handed)]
        kept = {id(i) for i in self.inversions}
        self.first_finding = next(((i, c, t, n) for i, c, t, n, f, found in self._found
                                   if f or any(id(v) in kept for v in found)), None)


def failure_result(run: Run, session: Session, ex: Any, index: int, executions: int, shrink: bool) -> Result:
    """The Result of a failing execution ``ex`` (number ``index``), its schedule shrunk unless not
    ``shrink``; raises :class:`ExplorationInterrupted` if Ctrl-C came while shrinking."""
    from .shrink import shrink_failure

    original = run.schedule(ex.choices, index, ex.failure.message)
    ex, decisions, shrunk = shrink_failure(session, ex, run.model, run.max_steps, EPOCH, shrink)
    found = Result(
        ok=False, executions=executions, seed=run.seed, strategy=run.strategy, model=run.model,
        elapsed=time.perf_counter() - run.started, failure=ex.failure,
        schedule=run.schedule(shrunk.choices, index, ex.failure.message),
        trace=ex.trace, uninstrumented=session.uninstrumented, threads=[t.name for t in ex.threads],
        races=run.races, lock_inversions=run.inversions, suppressed_races=suppressed(run.races),
        original_schedule=original, decisions=decisions, shrink=shrunk,
        handoffs=session.handoffs_of(ex), early_wakes=session.early_wakes_of(ex),
        interrupted=interrupt_requested(),
    )
    if found.interrupted:  # while shrinking: the failure found stands, not shrunk further
        raise ExplorationInterrupted(found)
    return found


def end_result(run: Run, session: Session | None, races: str, *, executions: int, exhausted: bool,
               interrupted: bool, uninstrumented: list[str], coverage: dict | None) -> Result:
    """The Result of an exploration that ran out of budget (or was interrupted) without a failing
    execution: it fails with its first race or inversion when ``races="error"``. ``session`` runs
    that execution once more for the report's values and hand-offs (None: not run again)."""
    handoffs: list = []
    finding = run.first_finding
    if races == "error" and finding is not None and not interrupted and session is not None:
        index, choices, trace, threads = finding
        # the report shows the run up to its first race, or its end: the run keeps only the events it may show
        first = next((r for r in run.races if r.fails), None)
        tail = TraceTail(until=race_steps(first, threads) if first is not None else None)
        again, replayed = session.rerun(choices, run.model, run.max_steps, capture_values=True, tail=tail)
        if replayed.divergence is None and again.choices == choices:
            finding = (index, choices, again.trace, threads)
            handoffs = session.handoffs_of(again)
    result = Result(
        ok=True, executions=executions, seed=run.seed, strategy=run.strategy, model=run.model,
        elapsed=time.perf_counter() - run.started, uninstrumented=uninstrumented,
        # no coverage claim over code that ran without scheduling points
        exhausted=exhausted and not uninstrumented,
        races=run.races, lock_inversions=run.inversions, suppressed_races=suppressed(run.races),
        coverage=coverage, interrupted=interrupted,
    )
    if races == "error" and finding is not None:
        index, choices, trace, threads = finding
        reported = [r for r in run.races if r.fails]
        parts = []
        if reported:
            parts.append(f"{len(reported)} data race(s)")
        if run.inversions:
            parts.append(f"{len(run.inversions)} lock-order inversion(s)")
        first = reported[0].summary() if reported else run.inversions[0].summary()
        result.ok = False
        result.failure = Failure("race", f"{' and '.join(parts)} found; the first: {first}", step=0)
        result.schedule = run.schedule(choices, index, result.failure.message)
        result.trace, result.threads, result.handoffs = trace, threads, handoffs
    if interrupted:
        raise ExplorationInterrupted(result)
    return result


def suppressed(races: list) -> int:
    return sum(1 for r in races if r.suppressed)
