"""The driver: run a function under many controlled executions until one fails.

instrument (make the code under test report its accesses) -> runtime (one execution per schedule)
-> strategy (who runs next) -> result (the first failure, its schedule, its trace).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..runtime.execution import Execution
from ..runtime.state import Failure
from ..runtime.watchdog import STUCK_AFTER, interrupt_requested, interrupts
from ..schedule import Schedule
from ..strategies import ReplayStrategy, Strategy, make_strategy
from .result import ExplorationInterrupted, InterlaceFailure, Result
from .session import DEFAULT_MAX_STEPS, EPOCH, Session, check_options

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
    races: str = "error",
    ignore_races: Sequence[str] | None = None,
    on_execution: Callable[[int, Execution], None] | None = None,
    shrink: bool = True,
) -> Result:
    """Run ``fn`` once per execution under ``strategy`` until it fails or the budget is spent.

    ``fn`` builds its state, starts threads, joins them and asserts, like any threading test. A
    failure is an exception in ``fn`` or in any thread it started, a deadlock, more than
    ``max_steps`` scheduling points (a possible livelock), or a thread stuck for ``stuck_timeout``
    seconds in something interlace cannot control while nothing else can run. The same ``seed``
    explores the same executions in the same order.

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
    """
    check_options(executions, model, max_steps, races)
    if ignore_races is None:
        from ..config import load_config

        ignore_races = load_config().ignore_races
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if max_preemptions is not None and strategy != "dfs":
        raise ValueError(f"max_preemptions bounds the dfs strategy, not {strategy!r}")
    if isinstance(strategy, str):
        options: dict[str, Any] = {"depth": depth} if strategy == "pct" else {}
        if strategy == "dfs":
            options["max_preemptions"] = max_preemptions
        strat = make_strategy(strategy, seed, **options)
    else:
        strat = strategy
    started = time.perf_counter()
    done = 0
    exhausted = interrupted = False
    found_races: list = []
    found_inversions: list = []
    first_finding: tuple | None = None
    with Session(fn, include, exclude, stuck_timeout=stuck_timeout, races=races,
                 ignore_races=ignore_races, replayable=True) as session, interrupts():
        for index in range(executions):
            if time_limit is not None and time.perf_counter() - started > time_limit:
                break
            if not strat.begin(index):
                exhausted = True
                break
            ex = session.run(strat, model, max_steps)
            if interrupt_requested() and (ex.failure is None or ex.failure.kind == "interrupted"):
                interrupted = True
                break
            done += 1
            if on_execution is not None:
                on_execution(index, ex)
            new_races, new_inversions = session.new_findings()
            for item in (*new_races, *new_inversions):
                item.execution = index
            found_races += new_races
            found_inversions += new_inversions
            if first_finding is None and (any(r.fails for r in new_races) or new_inversions):
                first_finding = (index, list(ex.choices), ex.trace, [t.name for t in ex.threads])
            if ex.failure is not None:
                from .shrink import shrink_failure

                original = Schedule(choices=list(ex.choices), model=model, max_steps=max_steps, epoch=EPOCH,
                                    strategy=strat.describe(), seed=seed, execution=index,
                                    target=dict(target or {}), failure=ex.failure.message)
                ex, decisions, shrunk = shrink_failure(session, ex, model, max_steps, EPOCH, shrink)
                schedule = Schedule(
                    choices=list(shrunk.choices), model=model, max_steps=max_steps, epoch=EPOCH,
                    strategy=strat.describe(), seed=seed, execution=index, target=dict(target or {}),
                    failure=ex.failure.message,
                )
                found = Result(
                    ok=False, executions=done, seed=seed, strategy=strat.describe(), model=model,
                    elapsed=time.perf_counter() - started, failure=ex.failure, schedule=schedule,
                    trace=ex.trace, uninstrumented=session.uninstrumented,
                    threads=[t.name for t in ex.threads], races=found_races,
                    lock_inversions=found_inversions, suppressed_races=_suppressed(found_races),
                    original_schedule=original, decisions=decisions, shrink=shrunk,
                    handoffs=session.handoffs_of(ex), interrupted=interrupt_requested(),
                )
                if found.interrupted:  # while shrinking: the failure found stands, not shrunk further
                    raise ExplorationInterrupted(found)
                return found
        handoffs: list = []
        if races == "error" and first_finding is not None and not interrupted:
            # once more for the report: the values read and the hand-offs, as a failure's run gives them
            index, choices, trace, threads = first_finding
            again, replayed = session.rerun(choices, model, max_steps, capture_values=True)
            if replayed.divergence is None and again.choices == choices:
                first_finding = (index, choices, again.trace, threads)
                handoffs = session.handoffs_of(again)
    result = Result(
        ok=True, executions=done, seed=seed, strategy=strat.describe(), model=model,
        elapsed=time.perf_counter() - started, uninstrumented=session.uninstrumented,
        # no coverage claim over code that ran without scheduling points
        exhausted=exhausted and not session.uninstrumented,
        races=found_races, lock_inversions=found_inversions, suppressed_races=_suppressed(found_races),
        coverage=strat.coverage() if hasattr(strat, "coverage") else None, interrupted=interrupted,
    )
    if races == "error" and first_finding is not None:
        index, choices, trace, threads = first_finding
        reported = [r for r in found_races if r.fails]
        parts = []
        if reported:
            parts.append(f"{len(reported)} data race(s)")
        if found_inversions:
            parts.append(f"{len(found_inversions)} lock-order inversion(s)")
        first = reported[0].summary() if reported else found_inversions[0].summary()
        result.ok = False
        result.failure = Failure("race", f"{' and '.join(parts)} found; the first: {first}", step=0)
        result.schedule = Schedule(
            choices=choices, model=model, max_steps=max_steps, epoch=EPOCH, strategy=strat.describe(),
            seed=seed, execution=index, target=dict(target or {}), failure=result.failure.message,
        )
        result.trace, result.threads, result.handoffs = trace, threads, handoffs
    if interrupted:
        raise ExplorationInterrupted(result)
    return result


def _suppressed(races: list) -> int:
    return sum(1 for r in races if r.suppressed)


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
    with Session(fn, include, exclude, races=races, ignore_races=ignore_races) as session:  # runs fn once
        strat.begin(0)
        ex = session.run(strat, schedule.model, schedule.max_steps, schedule.epoch, capture_values=True)
    failure = ex.failure if ex.failure is None or ex.failure.kind != "divergence" else None
    result = Result(
        ok=failure is None and strat.divergence is None, executions=1, seed=schedule.seed,
        strategy="replay", model=schedule.model,
        elapsed=time.perf_counter() - started, failure=failure, trace=ex.trace,
        uninstrumented=session.uninstrumented, divergence=strat.divergence,
        threads=[t.name for t in ex.threads], handoffs=session.handoffs_of(ex),
    )
    result.races, result.lock_inversions = session.new_findings()
    result.suppressed_races = _suppressed(result.races)
    if races == "error":
        result.fail_on_races()
    if result.failure is not None:
        result.schedule = dataclasses.replace(schedule, choices=list(ex.choices), failure=result.failure.message)
    return result
