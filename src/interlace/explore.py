"""The driver: run a function under many controlled executions until one fails.

instrument (make the code under test report its accesses) -> runtime (one execution per schedule)
-> strategy (who runs next) -> result (the first failure, its schedule, its trace).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .runtime import hooks
from .runtime.calls import CallClassifier
from .runtime.execution import Execution, Failure
from .runtime.patching import RuntimePatches, shadow_of, substitutions
from .runtime.watchdog import STUCK_AFTER, Watchdog
from .schedule import MODELS, Schedule
from .strategies import ReplayStrategy, Strategy, make_strategy

DEFAULT_MAX_STEPS = 100_000
EPOCH = 1_700_000_000.0


class InterlaceFailure(AssertionError):
    """Raised by :meth:`Result.raise_on_failure`; its message is the full report."""


@dataclass
class Result:
    """What an exploration found."""

    ok: bool
    executions: int
    seed: int | None
    strategy: str
    model: str
    elapsed: float
    failure: Failure | None = None
    schedule: Schedule | None = None
    trace: list = field(default_factory=list)
    uninstrumented: list[str] = field(default_factory=list)
    divergence: str | None = None
    exhausted: bool = False
    threads: list[str] = field(default_factory=list)

    def report(self, replay_command: str | None = None) -> str:
        from .report.text import format_result

        return format_result(self, replay_command=replay_command)

    def raise_on_failure(self) -> None:
        """Raise :class:`InterlaceFailure` (an AssertionError) with the report if a failure was found."""
        if not self.ok:
            raise InterlaceFailure(self.report())

    def __bool__(self) -> bool:
        return self.ok


def _check_options(executions: int, model: str, max_steps: int) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")
    if executions < 1:
        raise ValueError("executions must be at least 1")
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    if hooks._active is not None:
        raise RuntimeError("interlace cannot explore from inside a controlled execution")


class Session:
    """Everything that stays the same across the executions of one exploration."""

    def __init__(self, fn: Callable[[], Any], include: Sequence[str], exclude: Sequence[str],
                 instrument: bool = True, stuck_timeout: float = STUCK_AFTER) -> None:
        self.fn = fn
        self.watchdog = Watchdog(stuck_after=stuck_timeout)
        self.uninstrumented: list[str] = []
        self._instrumenting: Any = None
        is_instrumented_code: Callable[[Any], bool] = lambda code: False
        if instrument:
            from . import instrument as inst

            selection = inst.Selection(include, exclude)
            self.uninstrumented = list(inst.reinstrument_loaded(selection, extra=[fn]))
            self._instrumenting = inst.instrumenting(selection)
            is_instrumented_code = inst.is_instrumented_code
        self.classifier = CallClassifier(is_instrumented_code, substitutions(), shadow_of)
        self.patches = RuntimePatches()

    def __enter__(self) -> Session:
        if self._instrumenting is not None:
            self._instrumenting.__enter__()
        self.patches.install()
        self.watchdog.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.watchdog.stop()
        self.patches.uninstall()
        if self._instrumenting is not None:
            self._instrumenting.__exit__(*exc)

    def run(self, strategy: Strategy, model: str, max_steps: int, epoch: float = EPOCH,
            capture_values: bool = False) -> Execution:
        ex = Execution(strategy, model=model, max_steps=max_steps, classifier=self.classifier, epoch=epoch)
        ex.capture_values = capture_values
        self.patches.refresh()
        ex.run(self.fn)
        strategy.end(ex)
        return ex


def explore(
    fn: Callable[[], Any],
    *,
    executions: int = 1000,
    strategy: str | Strategy = "pct",
    seed: int | None = None,
    model: str = "free-threaded",
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_steps: int = DEFAULT_MAX_STEPS,
    time_limit: float | None = None,
    depth: int = 3,
    target: dict[str, Any] | None = None,
    stuck_timeout: float = STUCK_AFTER,
    on_execution: Callable[[int, Execution], None] | None = None,
) -> Result:
    """Run ``fn`` once per execution under ``strategy`` until it fails or the budget is spent.

    ``fn`` builds its state, starts threads, joins them and asserts, like any threading test. A
    failure is an exception in ``fn`` or in any thread it started, a deadlock, more than
    ``max_steps`` scheduling points (a possible livelock), or a thread stuck for ``stuck_timeout``
    seconds in something interlace cannot control while nothing else can run. The same ``seed`` explores the same
    executions in the same order.
    """
    _check_options(executions, model, max_steps)
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if isinstance(strategy, str):
        strat = make_strategy(strategy, seed, **({"depth": depth} if strategy == "pct" else {}))
    else:
        strat = strategy
    started = time.perf_counter()
    done = 0
    exhausted = False
    with Session(fn, include, exclude, stuck_timeout=stuck_timeout) as session:
        for index in range(executions):
            if time_limit is not None and time.perf_counter() - started > time_limit:
                break
            if not strat.begin(index):
                exhausted = True
                break
            ex = session.run(strat, model, max_steps)
            done += 1
            if on_execution is not None:
                on_execution(index, ex)
            if ex.failure is not None:
                ex = _with_values(session, ex, model, max_steps)
                schedule = Schedule(
                    choices=list(ex.choices), model=model, max_steps=max_steps, epoch=EPOCH,
                    strategy=strat.describe(), seed=seed, execution=index, target=dict(target or {}),
                    failure=ex.failure.message,
                )
                return Result(
                    ok=False, executions=done, seed=seed, strategy=strat.describe(), model=model,
                    elapsed=time.perf_counter() - started, failure=ex.failure, schedule=schedule,
                    trace=ex.trace, uninstrumented=session.uninstrumented,
                    threads=[t.name for t in ex.threads],
                )
    return Result(
        ok=True, executions=done, seed=seed, strategy=strat.describe(), model=model,
        elapsed=time.perf_counter() - started, uninstrumented=session.uninstrumented, exhausted=exhausted,
    )


def _with_values(session: Session, ex: Execution, model: str, max_steps: int) -> Execution:
    """Replay a failing execution once more, this time noting the values read, for the report.

    The replay also checks that the schedule reproduces the failure; if it somehow does not (the
    program depends on something interlace does not control), the original execution is kept.
    """
    strategy = ReplayStrategy(ex.choices)
    strategy.begin(0)
    again = session.run(strategy, model, max_steps, capture_values=True)
    if again.failure is not None and again.failure.signature() == ex.failure.signature():
        return again
    ex.failure.details.append(
        "note: replaying this schedule did not reproduce the failure; the program depends on something "
        "interlace does not control (wall-clock time, I/O, other processes)"
    )
    return ex


def replay(
    fn: Callable[[], Any],
    schedule: Schedule | list[int] | str,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Result:
    """Re-run exactly one schedule (a :class:`Schedule`, its JSON text, or a list of choices)."""
    if isinstance(schedule, str):
        schedule = Schedule.from_json(schedule)
    elif isinstance(schedule, list):
        schedule = Schedule(choices=schedule)
    _check_options(1, schedule.model, schedule.max_steps)
    strat = ReplayStrategy(schedule.choices)
    started = time.perf_counter()
    with Session(fn, include, exclude) as session:
        strat.begin(0)
        ex = session.run(strat, schedule.model, schedule.max_steps, schedule.epoch, capture_values=True)
    failure = ex.failure if ex.failure is None or ex.failure.kind != "divergence" else None
    result = Result(
        ok=failure is None and strat.divergence is None, executions=1, seed=schedule.seed,
        strategy="replay", model=schedule.model,
        elapsed=time.perf_counter() - started, failure=failure, trace=ex.trace,
        uninstrumented=session.uninstrumented, divergence=strat.divergence,
        threads=[t.name for t in ex.threads],
    )
    if failure is not None:
        result.schedule = Schedule(
            choices=list(ex.choices), model=schedule.model, max_steps=schedule.max_steps,
            epoch=schedule.epoch, strategy=schedule.strategy, seed=schedule.seed,
            execution=schedule.execution, target=schedule.target, failure=failure.message,
        )
    return result
