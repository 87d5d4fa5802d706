"""The call phase of an explored test: explore (or replay) its executions and turn the result into pytest's.

Exists to connect one pytest item to ``interlace.explore``/``interlace.replay``: it picks the
strategy, records the statistics the summary prints, passes skips and xfails on to pytest, saves a
failing schedule with its replay command, and fails the test (or warns of races).
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from ..runtime.state import Choices
from ..strategies import Strategy
from .failures import deferred_failure, fail, strip_frames, tidy, warn_races
from .fixtures import execution_body, teardown_function_fixtures
from .schedules import replay_command, schedule_path


class UntilNothingToChoose(Strategy):
    """The strategy ``name``, stopping the exploration after a first execution that made no choice.

    An execution where no two threads could ever run at the same point is the only execution there
    is (the strategy is asked nothing, everything else is deterministic), so running it 99 more times
    would only cost time: most tests of a suite never start a thread. Partitionable when ``name``
    is: every later execution requires execution 0.
    """

    def __init__(self, name: str, seed: int) -> None:
        from ..strategies import make_strategy

        super().__init__(seed)
        self.inner = make_strategy(name, seed)
        self.name = self.inner.name
        self.partitionable = self.inner.partitionable
        self.index = 0
        self.nothing_to_choose = False
        self._made = (name, seed)

    def __reduce__(self) -> tuple:
        return UntilNothingToChoose, self._made  # a worker makes its own, fresh

    def requires(self, index: int) -> range | tuple[int, ...]:
        inner = self.inner.requires(index)
        return inner if not self.partitionable or index == 0 or 0 in inner else (0, *inner)

    def chain(self, index: int) -> int | None:
        return self.inner.chain(index)

    def begin(self, index: int) -> bool:
        self.index = index
        if self.nothing_to_choose:
            return False
        return self.inner.begin(index)

    def thread_created(self, tid: int) -> None:
        self.inner.thread_created(tid)

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        return self.inner.choose(enabled, current, execution)

    def end(self, execution: Any) -> None:
        if self.index == 0 and not execution.choices and execution.failure is None:
            self.nothing_to_choose = True
        self.inner.end(execution)

    def describe(self) -> str:
        return self.inner.describe()

    def __getattr__(self, attr: str) -> Any:
        if attr == "inner":  # not made yet (unpickling)
            raise AttributeError(attr)
        return getattr(self.inner, attr)


def choice_runs(choices: Any) -> tuple:
    """An execution's decisions, as (tid, count) runs: two executions made the same decisions if and only
    if they have the same runs."""
    if isinstance(choices, Choices):
        return tuple(zip(choices.tids, choices.counts, strict=True))
    return tuple(Choices(choices).runs())


def _outcome_exception(result: Any) -> BaseException | None:
    """A skip/xfail/exit raised by the test: pytest's business, not a failure to explore."""
    failure = result.failure
    exc = getattr(failure, "exception", None) if failure is not None else None
    if exc is None:
        return None
    import unittest

    from _pytest.outcomes import Exit, Skipped, XFailed

    if isinstance(exc, (Skipped, XFailed, Exit, unittest.SkipTest)):
        return exc
    return None


def run(item: Any, plan: dict) -> None:
    """Explore (or replay) ``item`` as ``plan`` says; record its statistics, fail it or warn of races."""
    import interlace

    body = execution_body(item)
    config = item.config
    seen: set[tuple] = set()
    timed_out = None
    started = time.perf_counter()
    replaying = plan["replay"] is not None
    try:
        try:
            if replaying:
                result = interlace.replay(body, plan["replay"], races=plan["races"])
                seen.add(choice_runs(result.schedule.choices) if result.schedule is not None else ())
            else:
                result = _explore(item, plan, body, seen)
        except pytest.fail.Exception as exc:  # pytest-timeout's, raised once the exploration stopped
            timed_out = deferred_failure(exc)
            if timed_out is None:
                raise
            result = getattr(exc.__context__, "result", None)  # (an ExplorationInterrupted's)
            if result is None:
                raise timed_out from None
    finally:
        try:
            teardown_function_fixtures(item)  # outside any execution: whatever an aborted run left
        except Exception:  # noqa: BLE001 - the exploration's outcome matters more
            pass
    elapsed = time.perf_counter() - started
    seen_none = not replaying and plan["workers"] is not None  # workers report no choices
    outcome = _outcome_exception(result)
    stats = {
        "nodeid": item.nodeid, "executions": result.executions, "interleavings": None if seen_none else len(seen),
        "elapsed": round(elapsed, 4), "seed": result.seed, "strategy": result.strategy,
        "mode": "replay" if replaying else "explore",
        "failed": (not result.ok or timed_out is not None) and outcome is None,
        "exhausted": bool(result.exhausted),
        "coverage": result.coverage_line() if result.coverage else None,
        "uninstrumented": [u for u in result.uninstrumented if not u.startswith("interlace.")],
        "races": sum(1 for r in result.races if r.fails) + len(result.lock_inversions),
        "notes": sum(1 for r in result.races if not r.suppressed and r.note),
        "steps": result.steps,
        "step_budget": plan["step_budget"] if result.step_budget_spent else None,
    }
    item.user_properties.append(("interlace", stats))
    if outcome is not None:
        raise outcome
    if timed_out is not None:
        raise timed_out from None
    if replaying:
        _finish_replay(item, result)
        return
    tidy(result)
    if not result.ok:
        path = schedule_path(config, item.nodeid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(result.schedule.to_json())
        command = replay_command(item, path)
        html = ""
        if config.getoption("interlace_html"):
            from ..report.command import write_html

            page = write_html(result, os.path.splitext(path)[0] + ".html", command)
            shown = os.path.relpath(page)
            html = f"\n\nHTML report: {page if shown.startswith('..') else shown}"
        fail(f"{strip_frames(result.report())}{html}\n\nReplay it: {command}", result)
    warn_races(item, result)


def _explore(item: Any, plan: dict, body: Any, seen: set[tuple]) -> Any:
    import interlace

    options: dict = {}
    if plan["time_limit"] is not None:
        options["time_limit"] = float(plan["time_limit"])
    if plan["max_steps"] is not None:
        options["max_steps"] = int(plan["max_steps"])
    if plan["workers"] is not None:
        from .remote import PytestTarget

        options["workers"] = plan["workers"]
        body.__interlace_remote__ = PytestTarget.of(item)  # type: ignore[attr-defined]
    else:  # (workers report no choices: the distinct interleavings are not counted then)
        # (as runs: a long execution makes millions of decisions, most of them runs of the same thread)
        options["on_execution"] = lambda index, ex: seen.add(choice_runs(ex.choices))
        options["step_budget"] = plan["step_budget"]  # (counted here: not applied with workers)
    # dfs's walk ends by itself after a first execution without choices, and its tree is split
    # between workers only when it comes by name
    strategy = plan["strategy"] if plan["strategy"] == "dfs" else \
        UntilNothingToChoose(plan["strategy"], plan["seed"])
    return interlace.explore(
        body, executions=plan["executions"], seed=plan["seed"], strategy=strategy,
        model=plan["model"], races=plan["races"], hang_guard=plan["hang_guard"],
        target={"pytest": item.nodeid}, **options,
    )


def _finish_replay(item: Any, result: Any) -> None:
    path = item.config.getoption("interlace_replay")
    tidy(result)
    if result.divergence is not None:
        pytest.fail(f"interlace: the test diverged from the schedule in {path}: {result.divergence}\n"
                    "(the code or the test changed since the schedule was recorded, or it depends on "
                    "something interlace does not control)", pytrace=False)
    if not result.ok:
        fail(f"{strip_frames(result.report())}\n\nReproduced by replaying {path}", result)
    warn_races(item, result)
