"""The driver: run a function under many controlled executions until one fails.

instrument (make the code under test report its accesses) -> runtime (one execution per schedule)
-> strategy (who runs next) -> result (the first failure, its schedule, its trace).
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .detect import LockOrderDetector, RaceDetector
from .detect.races import StackProbe
from .runtime import hooks
from .runtime.blocking import BlockingCalls
from .runtime.calls import CallClassifier
from .runtime.execution import Execution
from .runtime.exits import ExitPatch
from .runtime.handoffs import HandoffLog
from .runtime.patching import RuntimePatches, shadow_of, substitutions
from .runtime.state import Failure
from .runtime.watchdog import STUCK_AFTER, Watchdog, interrupt_requested, interrupts
from .schedule import MODELS, Schedule
from .strategies import ReplayStrategy, Strategy, make_strategy

DEFAULT_MAX_STEPS = None
RESULT_VERSION = 1  # of the ``--json`` document (Result.to_dict)
EPOCH = 1_700_000_000.0


class InterlaceFailure(AssertionError):
    """Raised by :meth:`Result.raise_on_failure`; its message is the full report."""


class ExplorationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`explore`: the execution running then was ended cleanly (it is not a
    failure of the program) and ``result`` says what was found before (``result.interrupted``)."""

    def __init__(self, result: Result) -> None:
        super().__init__("interrupted")
        self.result = result


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
    races: list = field(default_factory=list)
    lock_inversions: list = field(default_factory=list)
    suppressed_races: int = 0
    original_schedule: Schedule | None = None  # the failing schedule before shrinking
    decisions: list = field(default_factory=list)  # shrink.Decision per decision of the shown trace
    handoffs: list = field(default_factory=list)  # (from, to, what) hand-offs between steps of the trace
    shrink: Any = None  # shrink.ShrinkResult: what shrinking did
    #: systematic strategies: {"strategy", "classes", "unit", "bound", "complete", "estimate"} (else None)
    coverage: dict | None = None
    interrupted: bool = False  # Ctrl-C ended the exploration (see ExplorationInterrupted)

    def coverage_line(self) -> str | None:
        """E.g. 'all 14 interleaving classes explored (DPOR), no failure', or how much was covered."""
        c = self.coverage
        if not c:
            return None
        bound = "" if c.get("bound") is None else f" with at most {c['bound']} preemption(s)"
        if self.exhausted:
            tail = ", no failure" if self.ok else ""
            if c["classes"] == 1:  # "the only interleaving class", "the only schedule"
                one = c["unit"][:-2] if c["unit"].endswith("sses") else c["unit"][:-1]
                return f"the only {one}{bound} explored ({c['strategy']}){tail}"
            return f"all {c['classes']} {c['unit']}{bound} explored ({c['strategy']}){tail}"
        if c.get("complete") and self.uninstrumented:
            return (f"{c['classes']} {c['unit']}{bound} explored ({c['strategy']}), not all of them: "
                    f"some code ran without scheduling points (not instrumented)")
        estimate = max(c.get("estimate") or 0.0, 1.0)
        share = min(c["classes"] / estimate, 1.0)
        return (f"{c['classes']} {c['unit']}{bound} explored ({c['strategy']}) of about {estimate:.3g} "
                f"estimated ({share:.1%}); the budget ran out first")

    def report(self, replay_command: str | None = None) -> str:
        from .report.text import format_result

        text = format_result(self)
        # what fails first, then the notes (benign races: reported, not failures)
        races = [r for r in self.races if not r.suppressed]
        found = [r for r in races if not r.note] + list(self.lock_inversions) + [r for r in races if r.note]
        if found:
            text += "\n\n" + "\n\n".join(item.format() for item in found)
        if self.suppressed_races:
            text += f"\n\n({self.suppressed_races} race report(s) suppressed)"
        if replay_command and not self.ok:
            text += f"\n\nReplay it: {replay_command}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (for ``--json``; the schema is in docs/reports.md)."""
        from .report.text import clean_traceback

        f = self.failure
        return {
            "format": "interlace-result", "version": RESULT_VERSION,
            "ok": self.ok, "executions": self.executions, "seed": self.seed, "strategy": self.strategy,
            "model": self.model, "elapsed": round(self.elapsed, 6),
            "failure": None if f is None else {"kind": f.kind, "message": f.message,
                                                "traceback": clean_traceback(f.traceback) if f.traceback else None,
                                                "details": f.details},
            "races": [r.to_dict() for r in self.races if not r.suppressed],
            "suppressed_races": self.suppressed_races,
            "lock_inversions": [i.to_dict() for i in self.lock_inversions],
            "uninstrumented": self.uninstrumented,
            "schedule": None if self.schedule is None else json.loads(self.schedule.to_json()),
            "exhausted": self.exhausted, "coverage": self.coverage, "interrupted": self.interrupted,
        }

    def raise_on_failure(self) -> None:
        """Raise :class:`InterlaceFailure` (an AssertionError) with the report if a failure was found."""
        if not self.ok:
            raise InterlaceFailure(self.report())

    def __bool__(self) -> bool:
        return self.ok


RACE_MODES = ("error", "warn", "off")


def _check_options(executions: int, model: str, max_steps: int | None, races: str = "off") -> None:
    if races not in RACE_MODES:
        raise ValueError(f"unknown races mode {races!r}; choose one of: {', '.join(RACE_MODES)}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")
    if executions < 1:
        raise ValueError("executions must be at least 1")
    if max_steps is not None and max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    if hooks._active is not None:
        raise RuntimeError("interlace cannot explore from inside a controlled execution")


class Session:
    """Everything that stays the same across the executions of one exploration."""

    def __init__(self, fn: Callable[[], Any], include: Sequence[str], exclude: Sequence[str],
                 instrument: bool = True, stuck_timeout: float = STUCK_AFTER, races: str = "off",
                 ignore_races: Sequence[str] = (), replayable: bool = False, exit_fails: bool = True,
                 blocking: bool = True) -> None:
        self.fn = fn
        # ``replayable``: ``fn`` is run many times anyway (explore, not replay or run, which promise one
        # run), so a race's stacks are captured by one more run of its execution, not at every access
        self.race_detector = RaceDetector(tuple(ignore_races), stacks=not replayable) if races != "off" else None
        self.lock_order = LockOrderDetector() if races != "off" else None
        self.observers = tuple(d for d in (self.race_detector, self.lock_order) if d is not None)
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
            self._selection = selection
        self.classifier = CallClassifier(is_instrumented_code, substitutions(), shadow_of,
                                         self._adopt if instrument else None)
        self.patches = RuntimePatches()
        # known blocking calls wait deterministically (not for `interlace run`: its inputs record them)
        self.blocking = BlockingCalls() if blocking else None
        # os._exit in a thread: a failure of the execution (not for `interlace run`, which really exits)
        self.exits = ExitPatch() if exit_fails else None
        self.handoffs: tuple[Execution, list] | None = None

    def _adopt(self, fn: Any, thread: bool) -> bool:
        """A function of the code under test met during an execution with its code not rewritten:
        instrument it now, or add it to ``uninstrumented`` (which then denies any coverage claim)."""
        from . import instrument as inst

        done, failures = inst.adopt(fn, self._selection, thread)
        for failure in failures:
            if failure not in self.uninstrumented:
                self.uninstrumented.append(failure)
        return done

    def __enter__(self) -> Session:
        if self._instrumenting is not None:
            self._instrumenting.__enter__()
        self.patches.install()
        if self.blocking is not None:
            self.blocking.install()
        if self.exits is not None:
            self.exits.install()
        self.watchdog.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.watchdog.stop()
        if self.exits is not None:
            self.exits.uninstall()
        if self.blocking is not None:
            self.blocking.uninstall()
        self.patches.uninstall()
        if self._instrumenting is not None:
            self._instrumenting.__exit__(*exc)

    def run(self, strategy: Strategy, model: str, max_steps: int | None, epoch: float = EPOCH,
            capture_values: bool = False) -> Execution:
        """One execution. Only a run for the report (``capture_values``: the values read, the hand-offs
        for the HTML's arrows) or for a strategy that reads it (``needs_trace``) keeps a trace: the
        others keep nothing per step, so their memory does not grow with their length."""
        log = HandoffLog() if capture_values else None
        observers = self.observers + (log,) if log is not None else self.observers
        record_trace = capture_values or getattr(strategy, "needs_trace", False)
        ex = Execution(strategy, model=model, max_steps=max_steps, classifier=self.classifier, epoch=epoch,
                       observers=observers, record_trace=record_trace)
        ex.capture_values = capture_values
        self.patches.refresh()
        for observer in observers:
            observer.begin(ex)
        ex.run(self.fn)
        for observer in observers:
            observer.end(ex)
        strategy.end(ex)
        if log is not None:
            self.handoffs = (ex, log.edges(ex.trace))
        if self.race_detector is not None and self.race_detector.stackless:
            self._fill_stacks(ex, model, max_steps, epoch)
        return ex

    def rerun(self, choices: Sequence[int], model: str, max_steps: int | None, epoch: float = EPOCH,
              observers: Sequence[Any] = (), capture_values: bool = False) -> tuple[Execution, ReplayStrategy]:
        """Run an execution again, by its ``choices``, with only ``observers`` watching (the detectors
        saw it already): for what its first run did not note."""
        strategy = ReplayStrategy(list(choices))
        strategy.begin(0)
        saved, self.observers = self.observers, tuple(observers)
        try:
            ex = self.run(strategy, model, max_steps, epoch, capture_values=capture_values)
        finally:
            self.observers = saved
        return ex, strategy

    def _fill_stacks(self, ex: Execution, model: str, max_steps: int | None, epoch: float) -> None:
        """Replay ``ex`` to capture the stacks of the accesses its new races report."""
        wanted = self.race_detector.take_stackless()  # type: ignore[union-attr]
        probe = StackProbe(set(wanted))
        self.rerun(ex.choices, model, max_steps, epoch, observers=(probe,))
        for key, accesses in wanted.items():
            stack = probe.found.get(key)
            if stack:  # else (the program did not replay the same way) the report shows the site only
                for access in accesses:
                    access.stack = stack

    def handoffs_of(self, ex: Execution) -> list[tuple[int, int, str]]:
        """The hand-off edges of ``ex`` if it was a run for the report, else none."""
        noted = self.handoffs
        return noted[1] if noted is not None and noted[0] is ex else []

    def new_findings(self) -> tuple[list, list]:
        """Races and lock-order inversions first seen in the last execution."""
        races = list(self.race_detector.races) if self.race_detector else []
        inversions = list(self.lock_order.inversions) if self.lock_order else []
        return races, inversions


def explore(
    fn: Callable[[], Any],
    *,
    executions: int = 1000,
    strategy: str | Strategy = "pct",
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
    context switches, then fewer decisions; see :mod:`interlace.shrink`) before it is reported:
    ``result.schedule`` is the shrunk one, ``result.original_schedule`` the one found.
    """
    _check_options(executions, model, max_steps, races)
    if ignore_races is None:
        from .config import load_config

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
    _check_options(1, schedule.model, schedule.max_steps, races)
    if ignore_races is None:
        from .config import load_config

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
    if races == "error" and failure is None and result.divergence is None and (
            any(r.fails for r in result.races) or result.lock_inversions):
        first = next((r for r in result.races if r.fails), None)
        summary = first.summary() if first is not None else result.lock_inversions[0].summary()
        failure = result.failure = Failure("race", summary)
        result.ok = False
    if failure is not None:
        result.schedule = dataclasses.replace(schedule, choices=list(ex.choices), failure=failure.message)
    return result
