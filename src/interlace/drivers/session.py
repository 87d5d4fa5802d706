"""One program under the runtime, many times: what stays the same across the executions of an
exploration (instrumentation, patches, detectors, watchdog), and the checks of the options every driver takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..detect import LockOrderDetector, RaceDetector
from ..detect.races import StackProbe
from ..runtime import hooks
from ..runtime.blocking import BlockingCalls
from ..runtime.calls import CallClassifier
from ..runtime.execution import HANG_GUARD, Execution
from ..runtime.exits import ExitPatch
from ..runtime.handoffs import HandoffLog
from ..runtime.patching import RuntimePatches, shadow_of, shadowed_types, substitutions
from ..runtime.tracetail import TraceTail
from ..runtime.watchdog import STUCK_AFTER, Watchdog
from ..schedule import MODELS
from ..strategies import ReplayStrategy, Strategy

DEFAULT_MAX_STEPS = None
EPOCH = 1_700_000_000.0  # the virtual clock's start in explorations (fixed: a schedule replays anywhere)


RACE_MODES = ("error", "warn", "off")


def check_options(executions: int, model: str, max_steps: int | None, races: str = "off") -> None:
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


def check_hang_guard(hang_guard: float | None) -> None:
    if hang_guard is not None and (isinstance(hang_guard, bool) or not isinstance(hang_guard, (int, float))
                                   or not hang_guard >= 0):
        raise ValueError(f"hang_guard must be a number of seconds (at least 0) or None, not {hang_guard!r}")


def parse_hang_guard(text: str) -> float | None:
    """A hang guard given as text (a command-line option): seconds, or ``none``."""
    if text.strip().lower() == "none":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"takes a number of seconds (at least 0) or 'none', not {text!r}")
    return seconds


class Session:
    """Everything that stays the same across the executions of one exploration."""

    def __init__(self, fn: Callable[[], Any], include: Sequence[str], exclude: Sequence[str],
                 instrument: bool = True, stuck_timeout: float = STUCK_AFTER, races: str = "off",
                 ignore_races: Sequence[str] = (), replayable: bool = False, exit_fails: bool = True,
                 blocking: bool = True, hang_guard: float | None = HANG_GUARD) -> None:
        self.fn = fn
        self.hang_guard = hang_guard  # every execution's (see runtime.execution.HANG_GUARD)
        # ``replayable``: ``fn`` is run many times anyway (explore, not replay or run, which promise one
        # run), so a race's stacks are captured by one more run of its execution, not at every access
        self.race_detector = RaceDetector(tuple(ignore_races), stacks=not replayable) if races != "off" else None
        # ... except in the first execution the detector watches, which captures them as they happen: it
        # finds most of an exploration's races (those of every schedule), and capturing every access's
        # stack costs it less than the replay would (see docs/benchmarks.md, bench_asyncio)
        self._live_stacks = replayable and self.race_detector is not None
        self.lock_order = LockOrderDetector() if races != "off" else None
        self.observers = tuple(d for d in (self.race_detector, self.lock_order) if d is not None)
        self.watchdog = Watchdog(stuck_after=stuck_timeout)
        self.uninstrumented: list[str] = []
        self._instrumenting: Any = None
        is_instrumented_code: Callable[[Any], bool] = lambda code: False
        if instrument:
            from .. import instrument as inst

            selection = inst.Selection(include, exclude)
            self.uninstrumented = list(inst.reinstrument_loaded(selection, extra=[fn]))
            self._instrumenting = inst.instrumenting(selection)
            is_instrumented_code = inst.is_instrumented_code
            self._selection = selection
        self.classifier = CallClassifier(is_instrumented_code, substitutions(), shadow_of,
                                         self._adopt if instrument else None, shadowed_types())
        self.patches = RuntimePatches()
        # known blocking calls wait deterministically (not for `interlace run`: its inputs record them)
        self.blocking = BlockingCalls() if blocking else None
        # os._exit in a thread: a failure of the execution (not for `interlace run`, which really exits)
        self.exits = ExitPatch() if exit_fails else None
        self.handoffs: tuple[Execution, list] | None = None

    def _adopt(self, fn: Any, thread: bool) -> bool:
        """A function of the code under test met during an execution with its code not rewritten:
        instrument it now, or add it to ``uninstrumented`` (which then denies any coverage claim)."""
        from .. import instrument as inst

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
            capture_values: bool = False, tail: TraceTail | None = None) -> Execution:
        """One execution. Only a run for the report (``capture_values``: the values read, the hand-offs
        for the HTML's arrows) or for a strategy that reads it (``needs_trace``) keeps a trace: the
        others keep nothing per step, so their memory does not grow with their length. A report's run
        whose strategy does not read the trace may keep only its ``tail`` (see runtime/tracetail.py)."""
        log = HandoffLog() if capture_values else None
        observers = self.observers + (log,) if log is not None else self.observers
        record_trace = capture_values or getattr(strategy, "needs_trace", False)
        # a report's run keeps its whole trace; a strategy's, only what the strategy reads of it
        trace_limit = None if capture_values else getattr(strategy, "trace_horizon", None)
        ex = Execution(strategy, model=model, max_steps=max_steps, classifier=self.classifier, epoch=epoch,
                       observers=observers, record_trace=record_trace, hang_guard=self.hang_guard,
                       trace_limit=trace_limit)
        ex.capture_values = capture_values
        if tail is not None:
            ex.trace = tail
        self.patches.refresh()
        detector = self.race_detector
        live = self._live_stacks and detector in observers
        if live:
            self._live_stacks = False
            detector.stacks = True  # type: ignore[union-attr]
        for observer in observers:
            observer.begin(ex)
        try:
            ex.run(self.fn)
        finally:
            if live:
                detector.stacks = False  # type: ignore[union-attr]
        for observer in observers:
            observer.end(ex)
        strategy.end(ex)
        if log is not None:
            self.handoffs = (ex, log.edges(ex.trace))
        if self.race_detector is not None and self.race_detector.stackless:
            self._fill_stacks(ex, model, max_steps, epoch)
        return ex

    def rerun(self, choices: Sequence[int], model: str, max_steps: int | None, epoch: float = EPOCH,
              observers: Sequence[Any] = (), capture_values: bool = False,
              tail: TraceTail | None = None) -> tuple[Execution, ReplayStrategy]:
        """Run an execution again, by its ``choices``, with only ``observers`` watching (the detectors
        saw it already): for what its first run did not note."""
        strategy = ReplayStrategy(list(choices))
        strategy.begin(0)
        saved, self.observers = self.observers, tuple(observers)
        try:
            ex = self.run(strategy, model, max_steps, epoch, capture_values=capture_values, tail=tail)
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

    @staticmethod
    def early_wakes_of(ex: Execution) -> list[tuple[str, float, tuple | None]]:
        """(thread name, virtual seconds, site) of the timed waits ``ex`` ended while others could run."""
        return [(ex.threads[tid].name, seconds, site) for tid, seconds, site in ex.early_wakes]

    def handed_locks(self) -> frozenset[str]:
        """The labels of the locks the last execution released from a thread that did not acquire them
        (a cycle through them is no deadlock: detect/lockorder.py)."""
        return frozenset(self.lock_order.handed) if self.lock_order else frozenset()

    def new_findings(self) -> tuple[list, list]:
        """Races and lock-order inversions first seen in the last execution."""
        races = list(self.race_detector.races) if self.race_detector else []
        inversions = list(self.lock_order.inversions) if self.lock_order else []
        return races, inversions
