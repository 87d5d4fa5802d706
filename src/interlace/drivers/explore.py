"""The driver: run a function under many controlled executions until one fails.

instrument (make the code under test report its accesses) -> runtime (one execution per schedule)
-> strategy (who runs next) -> result (the first failure, its schedule, its trace).
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..runtime.execution import HANG_GUARD, Execution
from ..runtime.watchdog import STUCK_AFTER, interrupt_reason, interrupt_requested, interrupts
from ..schedule import Schedule
from ..strategies import ReplayStrategy, Strategy, make_strategy
from ..strategies.dpor import DPOR
from .conclude import Run, end_result, failure_result, suppressed
from .result import ExplorationInterrupted, InterlaceFailure, Result
from .session import DEFAULT_MAX_STEPS, Session, check_hang_guard, check_options

__all__ = ["ExplorationInterrupted", "InterlaceFailure", "Result", "explore", "replay"]


def explore(
    fn: Callable[[], Any],
    *,
    executions: int = 1000,
    strategy: str | Strategy = "portfolio",
    seed: int | None = None,
    model: str = "free-threaded",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_steps: int | None = DEFAULT_MAX_STEPS,
    time_limit: float | None = None,
    depth: int = 3,
    max_preemptions: int | None = None,
    target: dict[str, Any] | None = None,
    stuck_timeout: float = STUCK_AFTER,
    hang_guard: float | None = HANG_GUARD,
    races: str = "error",
    ignore_races: Sequence[str] | None = None,
    on_execution: Callable[[int, Execution], None] | None = None,
    shrink: bool = True,
    workers: int | str | None = None,
    dask: str | None = None,
    step_budget: int | None = None,
) -> Result:
    """Run ``fn`` once per execution under ``strategy`` until it fails or the budget is spent.

    ``fn`` builds its state, starts threads, joins them and asserts, like any threading test. A
    failure is an exception in ``fn`` or in any thread it started, a deadlock, more than
    ``max_steps`` scheduling points (a possible livelock), or a thread stuck for ``stuck_timeout``
    seconds in something interlace cannot control while nothing else can run. The same ``seed``
    explores the same executions in the same order.

    A sleep or a timed wait may end before the other threads progress further (no real scheduler
    promises otherwise), except a wait for another thread (lock, join, Event, Condition, Queue,
    Barrier, Semaphore) whose timeout is at least ``hang_guard`` seconds (default 1): such a timeout
    only guards against a hang, so it ends only when no other thread can run. ``hang_guard=None``
    lets every timed wait end early.

    Data races (happens-before) and lock-order inversions are detected in every execution, even
    when nothing fails: with ``races="error"`` (default) they make the result fail, with ``"warn"``
    they are only listed in ``result.races``/``result.lock_inversions``, ``"off"`` skips detection.
    ``ignore_races`` are fnmatch patterns (``"shop.py:12"``, ``"Counter.*"``) of races to suppress;
    by default they are read from ``[tool.interlace] ignore-races`` in the nearest pyproject.toml.

    ``depth`` is PCT's bug depth; ``max_preemptions`` bounds the preemptions of ``strategy="dfs"``
    (its iterative bounding then stops at that bound, and ``exhausted`` means "every schedule with at
    most that many preemptions was run").

    With ``shrink=True`` (default) a failing schedule is shrunk (fewer preemptions, then fewer
    context switches, then fewer decisions; see :mod:`interlace.drivers.shrink`) before it is reported:
    ``result.schedule`` is the shrunk one, ``result.original_schedule`` the one found.

    ``step_budget`` (default none) stops the exploration before a next execution once the executions
    run so far took that many scheduling steps in all (``result.step_budget_spent``; ``result.steps``
    counts them): a bound on the work of a test whose every execution is long, which, being counted,
    ends it at the same execution on every machine and under any load (``time_limit`` is wall-clock).
    It is not applied with ``workers`` or ``dask``.

    ``workers=N`` (``"auto"``: one per core) runs the executions in N fresh worker processes, and
    ``dask="tcp://HOST:PORT"`` on a Dask cluster (the ``[dask]`` extra); see :mod:`interlace.drivers.workers`.
    The answer is the same as with one worker: ``fn`` must then be importable by its qualified name
    (a module-level function), and the strategy partitionable (random, pct, pos, portfolio,
    timeslice) or dfs, whose tree is split between the workers (:mod:`interlace.drivers.tree_workers`),
    or dpor, whose executions the workers run ahead of it (:mod:`interlace.drivers.dpor_workers`).
    """
    check_options(executions, model, max_steps, races)
    check_hang_guard(hang_guard)
    check_step_budget(step_budget)
    if ignore_races is None:
        from ..config import load_config

        ignore_races = load_config().ignore_races
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if max_preemptions is not None and strategy != "dfs":
        raise ValueError(f"max_preemptions bounds the dfs strategy, not {strategy!r}")
    strat = strategy_for(strategy, seed, depth, max_preemptions)
    if workers is not None or dask is not None:
        from .workers import explore_in_workers, shared_out, worker_count

        driver = None
        if isinstance(strat, DPOR) and (dask is not None or workers is not None and worker_count(workers) > 1):
            from .dpor_workers import explore_dpor_in_workers

            driver = explore_dpor_in_workers  # its executions run ahead in the workers, decided here, in order
        elif shared_out(strat, workers, dask):
            driver = explore_in_workers  # a worker builds its own instance, before any execution
        if driver is not None:
            if step_budget is not None:
                raise ValueError("step_budget is not applied with workers or dask: leave it None there")
            recipe = functools.partial(strategy_for, strategy, seed, depth, max_preemptions)
            return driver(
                fn, strat, recipe, workers=workers, dask=dask, executions=executions, seed=seed, model=model,
                include=include, exclude=exclude, max_steps=max_steps, time_limit=time_limit, target=target,
                stuck_timeout=stuck_timeout, races=races, ignore_races=ignore_races, on_execution=on_execution,
                shrink=shrink, hang_guard=hang_guard)
    run = Run(seed=seed, strategy=strat.describe(), model=model, max_steps=max_steps, target=dict(target or {}),
              started=time.perf_counter(), hang_guard=hang_guard)
    done = steps = 0
    exhausted = interrupted = budget_spent = False
    # (a deferred signal's handler runs when interrupts() exits: after the session, its watchdog and
    # patches, are gone)
    with interrupts() as stops, Session(fn, include, exclude, stuck_timeout=stuck_timeout, races=races,
                                        ignore_races=ignore_races, replayable=True, hang_guard=hang_guard) as session:
        try:
            for index in range(executions):
                if time_limit is not None and time.perf_counter() - run.started > time_limit:
                    break
                if not strat.begin(index):
                    exhausted = True
                    break
                if step_budget is not None and steps >= step_budget:
                    budget_spent = True  # (after begin(): a strategy with nothing left says so first)
                    break
                ex = session.run(strat, model, max_steps)
                if interrupt_requested() and (ex.failure is None or ex.failure.kind == "interrupted"):
                    interrupted = True
                    stops.where = stopped_where(index, executions, done, ex, run.strategy, seed)
                    break
                done += 1
                steps += ex.step
                if on_execution is not None:
                    on_execution(index, ex)
                run.note_findings(index, *session.new_findings(), ex, session.handed_locks())
                if ex.failure is not None:
                    stops.where = (f"the shrinking of the failure that execution {index + 1} found "
                                   f"({ex.failure.message.splitlines()[0] if ex.failure.message else ex.failure.kind})")
                    return failure_result(run, session, ex, index, done, shrink)
            if not interrupted:
                stops.where = f"the end of the exploration, after {done} execution(s) without failure"
            result = end_result(run, session, races, executions=done, exhausted=exhausted, interrupted=interrupted,
                                uninstrumented=session.uninstrumented,
                                coverage=strat.coverage() if hasattr(strat, "coverage") else None)
            result.steps, result.step_budget_spent = steps, budget_spent
            return result
        except ExplorationInterrupted as exc:
            exc.args = (f"interlace: interrupted by {interrupt_reason()} during {stops.where}",)
            raise


def check_step_budget(step_budget: int | None) -> None:
    if step_budget is not None and (isinstance(step_budget, bool) or not isinstance(step_budget, int)
                                    or step_budget < 1):
        raise ValueError(f"step_budget must be a number of scheduling steps (at least 1) or None, not "
                         f"{step_budget!r}")


def stopped_where(index: int, executions: int, done: int, ex: Execution, strategy: str, seed: int) -> str:
    """Where an interrupt stopped the exploration, for the note on a deferred signal's exception."""
    steps = f", {ex.failure.step:,} scheduling points into it" if ex.failure is not None else ", once it had ended"
    return (f"execution {index + 1} of at most {executions} (strategy {strategy}, seed {seed}){steps}; "
            f"{done} execution(s) before it ran without failure")


def strategy_for(strategy: str | Strategy, seed: int, depth: int, max_preemptions: int | None) -> Strategy:
    """The strategy an exploration runs: ``strategy`` itself, or the one of that name with its options."""
    if not isinstance(strategy, str):
        return strategy
    options: dict[str, Any] = {"depth": depth} if strategy == "pct" else {}
    if strategy == "dfs":
        options["max_preemptions"] = max_preemptions
    return make_strategy(strategy, seed, **options)


def replay(
    fn: Callable[[], Any],
    schedule: Schedule | list[int] | str,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    races: str = "warn",
    ignore_races: Sequence[str] | None = None,
) -> Result:
    """Re-run exactly one schedule (a :class:`Schedule`, its JSON text, or a list of choices).

    Races found on the way are listed in ``result.races`` (``races="warn"``); with ``"error"`` they
    also make the result fail when nothing else does.
    """
    if isinstance(schedule, str):
        schedule = Schedule.from_json(schedule)
    elif isinstance(schedule, list):
        schedule = Schedule(choices=schedule)
    check_options(1, schedule.model, schedule.max_steps, races)
    if ignore_races is None:
        from ..config import load_config

        ignore_races = load_config().ignore_races
    strat = ReplayStrategy(schedule.choices)
    started = time.perf_counter()
    with interrupts() as stops, Session(fn, include, exclude, races=races, ignore_races=ignore_races,
                                        hang_guard=schedule.hang_guard) as session:  # runs fn once
        stops.where = "the replay of a schedule"
        strat.begin(0)
        ex = session.run(strat, schedule.model, schedule.max_steps, schedule.epoch, capture_values=True)
        interrupted = interrupt_requested()
    failure = ex.failure if ex.failure is None or ex.failure.kind != "divergence" else None
    result = Result(
        ok=failure is None and strat.divergence is None, executions=1, seed=schedule.seed,
        strategy="replay", model=schedule.model,
        elapsed=time.perf_counter() - started, failure=failure, trace=ex.trace,
        uninstrumented=session.uninstrumented, divergence=strat.divergence,
        threads=[t.name for t in ex.threads], handoffs=session.handoffs_of(ex),
        early_wakes=session.early_wakes_of(ex),
    )
    result.races, result.lock_inversions = session.new_findings()
    result.suppressed_races = suppressed(result.races)
    if races == "error":
        result.fail_on_races()
    if result.failure is not None:
        result.schedule = dataclasses.replace(schedule, choices=list(ex.choices), failure=result.failure.message)
    if interrupted:
        result.interrupted = True
        raise ExplorationInterrupted(result)
    return result
