"""Shrinking: turn a failing schedule into the smallest one that fails the same way.

A schedule is the thread chosen at every *decision* (a scheduling point where more than one thread
could run). Most decisions are uninteresting: the running thread simply goes on, or the lowest
enabled thread takes over when it blocks. What makes a schedule fail are its *deviations* from that
default, and above all its *preemptions* (switching away from a thread that could have continued).

Shrinking works on deviations keyed by where they happen in the deciding thread's own progress
(``(thread, number of operations it has done, occurrence)``) rather than by global decision number,
so that removing one deviation does not shift the others onto unrelated steps. A candidate is a
set of deviations; it is run *leniently* (a deviation whose thread cannot run, or that is never
reached, falls back to the default), the decisions it really took are recorded, and it is kept
when it fails with the same :meth:`~interlace.runtime.state.Failure.signature` and is smaller
in the order (preemptions, context switches, decisions). Passes, repeated until nothing improves:

1. drop one preemption (the preempted thread goes on instead);
2. drop one other deviation (a forced switch goes to the default thread instead);
3. drop every deviation from some point on (a shorter execution, or at least a shorter schedule).

A livelock candidate must not have more decisions than the schedule as found: otherwise shrinking
would turn it into starvation (a thread that could end the spin is simply never run).

Everything is deterministic: the same failing schedule of the same program always shrinks to the
same schedule, given the same budgets: ``max_replays`` candidates and ``step_budget`` scheduling
points over all of them (a long execution gets fewer candidates, so shrinking stays bounded on long
traces, whatever the machine's load). There is no time bound by default: one would make the shrunk
schedule depend on the machine's load. A caller may pass ``time_limit``; when it is hit the result says so.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..runtime.watchdog import interrupt_requested
from ..strategies.base import STOP, Strategy
from .result import Result
from .session import Session, check_options

MAX_REPLAYS = 300
STEP_BUDGET = 3_000_000
#: a candidate runs at most this many times the failing execution's scheduling points (and at least
#: CANDIDATE_SLACK more than it): a longer one is not the same failure made smaller
CANDIDATE_STEPS = 4
CANDIDATE_SLACK = 10_000


class Decision(NamedTuple):
    """One decision of an execution, as the recording strategy saw it."""

    key: tuple  # (deciding tid or -1, operations it had done, occurrence) -- stable across candidates
    enabled: tuple  # the threads that could run, ascending
    current: int | None  # the thread that ran the previous step, if it could go on
    chosen: int
    position: int  # number of trace events before this decision: the switch happens after them

    @property
    def default(self) -> int:
        return self.current if self.current is not None else self.enabled[0]

    @property
    def preemption(self) -> bool:
        return self.current is not None and self.chosen != self.current


class RecordingStrategy(Strategy):
    """Follows ``choices`` (by decision number) or ``deviations`` (by key), leniently, and records
    every decision with its enabled set, current thread and position in the trace.

    A choice or deviation naming a thread that cannot run picks the next enabled thread other than
    the default, and the thread it named runs at the next decision where the running thread has
    blocked or ended (a *free* switch). Where nothing is said, the default applies: the
    current thread goes on, else the lowest enabled thread runs -- what
    :class:`~interlace.strategies.replay.ReplayStrategy` does once its choices run out, so a
    recorded schedule truncated after its last deviation replays the same execution.
    """

    needs_trace = True  # decisions are keyed by each thread's position in the trace

    name = "shrink"

    def __init__(self, choices: list[int] | None = None, deviations: dict[tuple, Any] | None = None,
                 strict: bool = False) -> None:
        super().__init__(0)
        self.strict = strict  # a choice naming a thread that cannot run stops the execution (divergence)
        self.divergence: str | None = None
        self.choices = list(choices or [])
        self.deviations = dict(deviations or {})  # key -> tid, or ("defer", tid)
        self.decisions: list[Decision] = []
        self._seen = 0
        self._done: dict[int, int] = {}
        self._occurrences: dict[tuple, int] = {}
        self._pending: int | None = None

    def begin(self, index: int) -> bool:
        self.decisions = []
        self.divergence = None
        self._pending = None
        self._seen = 0
        self._done = {}
        self._occurrences = {}
        return index == 0

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        trace = execution.trace
        done = self._done
        for e in trace[self._seen:]:
            done[e.tid] = done.get(e.tid, 0) + 1
        self._seen = len(trace)
        me = execution.current
        decider = me.tid if me is not None else -1
        base = (decider, done.get(decider, 0))
        occurrence = self._occurrences[base] = self._occurrences.get(base, -1) + 1
        key = (*base, occurrence)
        n = len(self.decisions)
        wanted = self.choices[n] if n < len(self.choices) else self.deviations.get(key)
        default = current if current is not None else enabled[0]
        if self.strict and n < len(self.choices) and wanted not in enabled:
            names = ", ".join(execution.name_of(t) for t in enabled)
            who = repr(execution.name_of(wanted)) if wanted < len(execution.threads) else f"thread #{wanted}"
            self.divergence = f"decision {n + 1}: the schedule runs {who}, but only {names} can run"
            return STOP
        if isinstance(wanted, tuple):  # ("defer", tid): run tid at the next switch that is free
            self._pending = wanted[1]
            wanted = None
        elif wanted is None and current is None and self._pending is not None:
            wanted, self._pending = self._pending, None
            if wanted not in enabled:
                wanted = None
        if wanted is None:
            tid = default
        elif wanted in enabled:
            tid = wanted
        else:  # a deviation whose thread cannot run here still deviates (to the next thread that
            # can), and the thread it wanted runs at the next free switch
            others = [t for t in enabled if t != default]
            tid = next((t for t in others if t > wanted), others[0] if others else default)
            self._pending = wanted
        self.decisions.append(Decision(key, tuple(enabled), current, tid, len(trace)))
        return tid


@dataclass(frozen=True, order=True)
class Size:
    """How big a failing schedule is, in the order shrinking reduces it."""

    preemptions: int
    switches: int  # context switches in the trace
    decisions: int  # decisions in the execution (its length, in the unit of schedules)

    def __str__(self) -> str:
        return (f"{self.preemptions} preemption(s), {self.switches} context switch(es), "
                f"{self.decisions} decision(s)")


def switches_in(trace: list) -> int:
    n = 0
    previous = None
    for e in trace:
        if previous is not None and e.tid != previous:
            n += 1
        previous = e.tid
    return n


def size_of(decisions: list[Decision], trace: list) -> Size:
    return Size(sum(1 for d in decisions if d.preemption), switches_in(trace), len(decisions))


def deviations_of(decisions: list[Decision]) -> dict[tuple, int]:
    return {d.key: d.chosen for d in decisions if d.chosen != d.default}


def schedule_of(decisions: list[Decision]) -> list[int]:
    """The choices, truncated after the last deviation (the rest is what replay does by default)."""
    chosen = [d.chosen for d in decisions]
    last = max((i for i, d in enumerate(decisions) if d.chosen != d.default), default=-1)
    return chosen[: last + 1]


@dataclass
class Candidate:
    execution: Any
    decisions: list[Decision]
    size: Size

    @property
    def choices(self) -> list[int]:
        return schedule_of(self.decisions)


@dataclass
class ShrinkResult:
    """What shrinking did; ``choices`` is the shrunk schedule (the original if nothing was found)."""

    choices: list[int]
    original: list[int]
    before: Size | None = None
    after: Size | None = None
    replays: int = 0
    elapsed: float = 0.0
    reproduced: bool = True
    stopped: str | None = None  # why shrinking stopped early (budget), if it did
    skipped: str | None = None  # why shrinking was not attempted
    steps: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.skipped:
            return f"not shrunk: {self.skipped}"
        if not self.reproduced:
            return "not shrunk: replaying the schedule did not reproduce the failure"
        text = (f"shrunk from {self.before} to {self.after} in {self.replays} replays "
                f"({self.elapsed:.2f}s)")
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text


def run_candidate(session: Any, model: str, max_steps: int | None, epoch: float, *, choices: list[int] | None = None,
                  deviations: dict[tuple, int] | None = None, capture_values: bool = False) -> Candidate:
    strategy = RecordingStrategy(choices, deviations)
    strategy.begin(0)
    ex = session.run(strategy, model, max_steps, epoch, capture_values=capture_values)
    return Candidate(ex, strategy.decisions, size_of(strategy.decisions, ex.trace))


def shrink(session: Any, choices: list[int], failure: Any, model: str, max_steps: int | None, epoch: float, *,
           max_replays: int = MAX_REPLAYS, time_limit: float | None = None,
           step_budget: int = STEP_BUDGET) -> ShrinkResult:
    """Shrink the failing schedule ``choices`` (whose execution failed with ``failure``).

    Every candidate is one execution in ``session`` (an open :class:`interlace.drivers.session.Session`).
    """
    started = time.perf_counter()
    result = ShrinkResult(choices=list(choices), original=list(choices))
    if failure.kind == "stuck":
        result.skipped = "a stuck thread depends on wall-clock time, so its schedule does not replay reliably"
        return result
    signature = failure.signature()

    def fails_the_same(c: Candidate) -> bool:
        f = c.execution.failure
        return f is not None and f.signature() == signature

    best = run_candidate(session, model, max_steps, epoch, choices=list(choices))
    result.replays = 1
    steps = best.execution.step
    if not fails_the_same(best):
        result.reproduced = False
        result.elapsed = time.perf_counter() - started
        return result
    result.before = best.size
    # A candidate leaves the original's schedule after its last deviation, and the default order may
    # then starve a thread forever while the others make progress (a worker looping on a stop flag
    # that only the starved thread sets): no candidate runs much longer than the failing execution.
    longest = max(CANDIDATE_STEPS * steps, steps + CANDIDATE_SLACK)
    max_steps = longest if max_steps is None else min(max_steps, longest)
    # A livelock must not shrink into starvation: a schedule that never lets a waiting thread run
    # "spins forever" too, with every spin a decision. Such candidates have more decisions.
    fair = best.size.decisions if failure.kind == "livelock" else None
    tried: set = set()
    while True:
        improved = False
        for deviations in _candidates(best.decisions):
            frozen = frozenset(deviations.items())
            if frozen in tried:
                continue
            tried.add(frozen)
            if result.replays >= max_replays:
                result.stopped = f"the budget of {max_replays} replays was spent"
                break
            if steps >= step_budget:
                result.stopped = f"the budget of {step_budget} scheduling points replayed was spent"
                break
            if time_limit is not None and time.perf_counter() - started > time_limit:
                result.stopped = f"the time limit of {time_limit:g}s was reached"
                break
            if interrupt_requested():
                result.stopped = "interrupted (Ctrl-C)"
                break
            candidate = run_candidate(session, model, max_steps, epoch, deviations=deviations)
            result.replays += 1
            steps += candidate.execution.step
            if (fails_the_same(candidate) and candidate.size < best.size
                    and (fair is None or candidate.size.decisions <= fair)):
                result.steps.append(str(candidate.size))
                best = candidate
                improved = True
                break
        if not improved or result.stopped:
            break
    result.choices = best.choices
    result.after = best.size
    result.elapsed = time.perf_counter() - started
    return result


def _candidates(decisions: list[Decision]):
    """Smaller deviation sets to try, most promising first (see the module docstring)."""
    deviating = [d for d in decisions if d.chosen != d.default]
    deviations = {d.key: d.chosen for d in deviating}
    preemptions = [d for d in deviating if d.preemption]
    others = [d for d in deviating if not d.preemption]
    for d in preemptions:
        yield {k: v for k, v in deviations.items() if k != d.key}
    # Trade a preemption for a free switch: the thread it ran instead runs at the next point where the
    # running thread blocks or ends anyway.
    for q in preemptions:
        yield {**{k: v for k, v in deviations.items() if k != q.key}, q.key: ("defer", q.chosen)}
    for d in others:
        yield {k: v for k, v in deviations.items() if k != d.key}
    for i in range(len(deviating)):
        yield {d.key: d.chosen for d in deviating[:i]}
    # Keep a single preemption, moved to a step of the same thread near one of the current ones.
    if preemptions:
        for p in preemptions:
            for d in [p, *_nearby(decisions, p)]:
                for target in _targets(p, d):
                    yield {d.key: target}
    # Move one preemption to another step of the same thread while dropping another one: the
    # preemptions that set up a race are often only needed because the one that matters sits at
    # the wrong step (e.g. a thread preempted as it starts instead of between its read and write).
    for q in preemptions:
        for p in preemptions:
            if p is q:
                continue
            rest = {k: v for k, v in deviations.items() if k not in (p.key, q.key)}
            for d in _nearby(decisions, p):
                for target in _targets(p, d):
                    yield {**rest, d.key: target}


def _targets(p: Decision, d: Decision) -> list[int]:
    """Where to switch at ``d`` instead of at ``p``: the same thread if it can run there, else any."""
    return [p.chosen] if p.chosen in d.enabled else [t for t in d.enabled if t != d.current]


def _nearby(decisions: list[Decision], p: Decision) -> list[Decision]:
    """The other decisions where ``p``'s thread could be preempted, nearest to ``p`` first (later ones
    before earlier ones at the same distance)."""
    index = decisions.index(p)
    thread = p.current
    spots = [(abs(i - index), i < index, i) for i, d in enumerate(decisions)
             if i != index and d.current == thread and len(d.enabled) > 1]
    return [decisions[i] for _, _, i in sorted(spots)]


def capture(session: Any, choices: list[int], failure: Any, model: str, max_steps: int,
            epoch: float) -> tuple[Any, list[Decision]] | None:
    """Run ``choices`` once more noting the values read (for the report) and every decision.

    Returns ``None`` if that run does not fail with the same signature as ``failure``.
    """
    c = run_candidate(session, model, max_steps, epoch, choices=list(choices), capture_values=True)
    f = c.execution.failure
    if f is None or f.signature() != failure.signature():
        return None
    return c.execution, c.decisions


def shrink_failure(session: Any, ex: Any, model: str, max_steps: int | None, epoch: float, enabled: bool = True,
                   **budget: Any) -> tuple[Any, list[Decision], ShrinkResult]:
    """What :func:`interlace.explore` does with a failing execution ``ex``: shrink its schedule
    (unless ``enabled`` is false), then run the result once more noting values and decisions.

    Returns the execution to report, its decisions and what shrinking did. If the final run does
    not fail the same way (the program depends on something interlace does not control), ``ex``
    itself is returned with a note in its failure's details.
    """
    observers = session.observers
    session.observers = ()  # detectors already saw this failure; candidates need not feed them
    try:
        if ex.failure.kind == "stuck":  # each run waits for the stuck timeout: report this one
            return ex, [], ShrinkResult(choices=list(ex.choices), original=list(ex.choices), skipped=(
                "a stuck thread is reported after a wall-clock timeout; its schedule is not run again"))
        if enabled:
            result = shrink(session, list(ex.choices), ex.failure, model, max_steps, epoch, **budget)
        else:
            result = ShrinkResult(choices=list(ex.choices), original=list(ex.choices), skipped="disabled")
        if interrupt_requested():  # Ctrl-C: report the failing run as found, run nothing more
            result.choices = list(ex.choices)
            return ex, [], result
        again = capture(session, result.choices, ex.failure, model, max_steps, epoch)
        if again is None and result.choices != list(ex.choices):
            result.choices = list(ex.choices)  # should not happen: the shrunk run failed the same way
            again = capture(session, result.choices, ex.failure, model, max_steps, epoch)
    finally:
        session.observers = observers
    if again is None:
        ex.failure.details.append(
            "note: replaying this schedule did not reproduce the failure; the program depends on something "
            "interlace does not control (wall-clock time, I/O, other processes)"
        )
        return ex, [], result
    return again[0], again[1], result


def record(fn: Any, schedule: Any, *, include: Any = (), exclude: Any = (), races: str = "warn") -> Any:
    """Replay ``schedule`` (a :class:`~interlace.schedule.Schedule`) once, like
    :func:`interlace.replay`, and also record its decisions so reports can mark preemptions exactly.

    Returns a :class:`~interlace.drivers.result.Result`; a choice naming a thread that cannot run stops the
    execution and sets ``result.divergence``, as in :func:`interlace.replay`. Races are detected as
    there (``races``), so that the report has the same sections as the replay.
    """
    from ..config import load_config

    check_options(1, schedule.model, schedule.max_steps, races)
    strategy = RecordingStrategy(schedule.choices, strict=True)
    started = time.perf_counter()
    with Session(fn, include, exclude, races=races, ignore_races=load_config().ignore_races,
                 hang_guard=schedule.hang_guard) as session:
        strategy.begin(0)
        ex = session.run(strategy, schedule.model, schedule.max_steps, schedule.epoch, capture_values=True)
    failure = ex.failure if ex.failure is None or ex.failure.kind != "divergence" else None
    result = Result(
        ok=failure is None and strategy.divergence is None, executions=1, seed=schedule.seed,
        strategy=schedule.strategy or "replay", model=schedule.model, elapsed=time.perf_counter() - started,
        failure=failure, trace=ex.trace, uninstrumented=session.uninstrumented,
        divergence=strategy.divergence, threads=[t.name for t in ex.threads], decisions=strategy.decisions,
        handoffs=session.handoffs_of(ex), early_wakes=session.early_wakes_of(ex),
    )
    result.races, result.lock_inversions = session.new_findings()
    result.suppressed_races = sum(1 for r in result.races if r.suppressed)
    if races == "error":
        result.fail_on_races()
    if result.failure is not None:
        result.schedule = dataclasses.replace(schedule, choices=list(schedule.choices),
                                              failure=result.failure.message)
    return result
