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

from .failures import fail, strip_frames, tidy, warn_races
from .fixtures import execution_body, teardown_function_fixtures
from .schedules import replay_command, schedule_path


def _until_nothing_to_choose(name: str, seed: int) -> Any:
    """The strategy ``name``, stopping the exploration after a first execution that made no choice.

    An execution where no two threads could ever run at the same point is the only execution there
    is (the strategy is asked nothing, everything else is deterministic), so running it 99 more times
    would only cost time: most tests of a suite never start a thread.
    """
    from ..strategies import Strategy, make_strategy

    inner = make_strategy(name, seed)

    class UntilNothingToChoose(Strategy):
        def __init__(self) -> None:
            super().__init__(seed)
            self.name = inner.name
            self.index = 0
            self.nothing_to_choose = False

        def begin(self, index: int) -> bool:
            self.index = index
            if self.nothing_to_choose:
                return False
            return inner.begin(index)

        def thread_created(self, tid: int) -> None:
            inner.thread_created(tid)

        def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
            return inner.choose(enabled, current, execution)

        def end(self, execution: Any) -> None:
            if self.index == 0 and not execution.choices and execution.failure is None:
                self.nothing_to_choose = True
            inner.end(execution)

        def describe(self) -> str:
            return inner.describe()

        def __getattr__(self, attr: str) -> Any:
            return getattr(inner, attr)

    return UntilNothingToChoose()


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
    started = time.perf_counter()
    replaying = plan["replay"] is not None
    try:
        if replaying:
            result = interlace.replay(body, plan["replay"], races=plan["races"])
            seen.add(tuple(result.schedule.choices) if result.schedule is not None else ())
        else:
            options: dict = {}
            if plan["time_limit"] is not None:
                options["time_limit"] = float(plan["time_limit"])
            if plan["max_steps"] is not None:
                options["max_steps"] = int(plan["max_steps"])
            result = interlace.explore(
                body, executions=plan["executions"], seed=plan["seed"],
                strategy=_until_nothing_to_choose(plan["strategy"], plan["seed"]),
                model=plan["model"], races=plan["races"], target={"pytest": item.nodeid},
                on_execution=lambda index, ex: seen.add(tuple(ex.choices)), **options,
            )
    finally:
        try:
            teardown_function_fixtures(item)  # outside any execution: whatever an aborted run left
        except Exception:  # noqa: BLE001 - the exploration's outcome matters more
            pass
    elapsed = time.perf_counter() - started
    outcome = _outcome_exception(result)
    stats = {
        "nodeid": item.nodeid, "executions": result.executions, "interleavings": len(seen),
        "elapsed": round(elapsed, 4), "seed": result.seed, "strategy": result.strategy,
        "mode": "replay" if replaying else "explore", "failed": not result.ok and outcome is None,
        "exhausted": bool(result.exhausted),
        "coverage": result.coverage_line() if result.coverage else None,
        "uninstrumented": [u for u in result.uninstrumented if not u.startswith("interlace.")],
        "races": sum(1 for r in result.races if r.fails) + len(result.lock_inversions),
        "notes": sum(1 for r in result.races if not r.suppressed and r.note),
    }
    item.user_properties.append(("interlace", stats))
    if outcome is not None:
        raise outcome
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
