"""pytest plugin: explore the interleavings of existing tests, fail on races, replay a failure by id.

Registered through the ``pytest11`` entry point as ``interlace`` and inactive unless asked for:
``pytest --interlace`` explores every selected test, ``@pytest.mark.interlace(...)`` one test.
``-p no:interlace`` removes the plugin altogether.

How a test is explored: pytest sets up the item as usual, except that its *function-scoped*
fixtures are left out (broader fixtures are set up once, outside any execution). Each execution
then runs, on a controlled main thread, "set up fresh function-scoped fixtures (and a fresh
instance of the test class) -> call the test -> tear those fixtures down", so everything the
fixtures build (locks, queues, executors) is controlled and nothing leaks from one execution into
the next. A failure fails the test with interlace's report, the schedule is saved under
``.interlace/pytest/`` and the report ends with the command that replays it:
``pytest '<nodeid>' --interlace-replay=<file>``.

This package holds the hooks (pytest looks for them on the module the entry point names, so every
hook is defined here); the work is done in its modules, imported in one direction only:
``options`` (the plan and seed of a test), ``fixtures`` (fresh function-scoped fixtures per
execution), ``exploration`` (the call phase) with ``schedules`` (the saved schedule and its replay
command) and ``failures`` (what pytest shows of a failure or a race), and ``summary``.
"""

from __future__ import annotations

from typing import Any

import pytest

from .exploration import run
from .failures import InterlaceFailed, InterlaceRaceWarning
from .fixtures import setup_broader
from .options import (
    DEFAULT_EXECUTIONS,
    DEFAULT_STEP_BUDGET,
    REPLAY,
    hang_guard_option,
    plan_for,
    step_budget_option,
    strategy_names,
)
from .summary import SUMMARY, Summary

__all__ = ["InterlaceRaceWarning"]


# -- options and markers -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interlace", "interlace: explore thread interleavings, find races, replay them")
    group.addoption("--interlace", action="store_true", default=False,
                    help="run every selected test under interlace's controlled scheduler")
    group.addoption("--interlace-executions", type=int, default=None, metavar="N",
                    help=f"executions explored per test (default {DEFAULT_EXECUTIONS})")
    group.addoption("--interlace-strategy", default=None, metavar="NAME",
                    help="exploration strategy: pct (default), random, pos, dfs, dpor or portfolio")
    group.addoption("--interlace-seed", type=int, default=None, metavar="N",
                    help="base seed; each test's seed is derived from it and the test id "
                         "(default: derived from the test id alone, so reruns and xdist workers agree)")
    group.addoption("--interlace-model", default=None, choices=("free-threaded", "gil"),
                    help="memory model: free-threaded (default, a switch at every shared access) or gil")
    group.addoption("--interlace-races", default=None, choices=("error", "warn", "off"),
                    help="data races found while the assertions pass: error (default) fails the test, "
                         "warn reports an InterlaceRaceWarning, off skips detection")
    group.addoption("--interlace-hang-guard", default=None, metavar="SECONDS",
                    help="a wait for another thread with a timeout of at least this many seconds only guards "
                         "against a hang: it ends only when no other thread can run (default 1; 'none': every "
                         "timeout may end early, as sleeps and shorter timeouts do)")
    group.addoption("--interlace-step-budget", default=None, metavar="STEPS",
                    help=f"stop exploring a test before a next execution once its executions took this many "
                         f"scheduling steps in all (default {DEFAULT_STEP_BUDGET:,}; 'none': no budget); counted, "
                         f"so the same on every machine")
    group.addoption("--interlace-replay", default=None, metavar="FILE",
                    help="replay exactly the schedule in FILE (written by a failing explored test)")
    group.addoption("--interlace-workers", default=None, metavar="N",
                    help="explore each test in N worker processes ('auto': one per core); the seed decides the "
                         "result, not N")
    group.addoption("--interlace-html", action="store_true", default=False,
                    help="for a failing test, also write the HTML timeline next to its saved schedule")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interlace(executions=100, strategy='pct', seed=None, model='free-threaded', races='error', "
        "skip=False, time_limit=None, max_steps=None, hang_guard=1.0): explore this test's thread interleavings with "
        "interlace (even without --interlace); skip=True runs it once, normally",
    )
    config.addinivalue_line("markers", "thread_unsafe: interlace (and pytest-run-parallel) run this test "
                                       "once, normally")
    summary = Summary()
    config.stash[SUMMARY] = summary
    config.pluginmanager.register(summary, "interlace-summary")
    strategy = config.getoption("interlace_strategy")
    if strategy is not None and strategy not in strategy_names():
        raise pytest.UsageError(f"--interlace-strategy: unknown strategy {strategy!r}; choose one of: "
                                f"{', '.join(strategy_names())}")
    workers = config.getoption("interlace_workers")
    if workers is not None and workers != "auto" and not (workers.isdigit() and int(workers) >= 1):
        raise pytest.UsageError(f"--interlace-workers: a number of worker processes (at least 1) or 'auto', "
                                f"not {workers!r}")
    hang_guard_option(config)  # a bad value is a usage error before any test runs
    step_budget_option(config)
    path = config.getoption("interlace_replay")
    if path:
        from ..schedule import Schedule, ScheduleError

        try:
            config.stash[REPLAY] = Schedule.load(path)
        except (OSError, ScheduleError, ValueError) as exc:
            raise pytest.UsageError(f"--interlace-replay: cannot load {path}: {exc}") from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    schedule = config.stash.get(REPLAY, None)
    if schedule is None:
        return
    wanted = (schedule.target or {}).get("pytest")
    if wanted is None:
        if len(items) != 1:
            raise pytest.UsageError(
                f"--interlace-replay: {config.getoption('interlace_replay')} does not name a test; "
                "select exactly one test to replay it on")
        return
    keep = [item for item in items if item.nodeid == wanted]
    if not keep and items:
        raise pytest.UsageError(f"--interlace-replay: the schedule is for {wanted!r}, which is not among the "
                                "selected tests")
    deselected = [item for item in items if item.nodeid != wanted]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


# -- running an item -----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    plan = plan_for(item)
    if plan is None:
        return
    # Instance attributes shadow the methods for this item only: pytest's setup then fills only the
    # broader-scoped fixtures, and the call phase runs the exploration.
    item.setup = lambda: setup_broader(item)  # type: ignore[method-assign]
    item.runtest = lambda: run(item, plan)  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """One line for a failed exploration in the short test summary.

    pytest prints the whole failure message there when it runs on CI (``CI`` set) or with ``-vv``; a
    forty-line report repeated in the summary would bury the other results.
    """
    report = yield
    failed = call.excinfo.value if call.excinfo is not None else None
    crash = getattr(report.longrepr, "reprcrash", None)
    if isinstance(failed, InterlaceFailed) and crash is not None:
        crash.message = failed.headline
    return report


# -- reporting -----------------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY, None)
    if summary is not None:
        summary.write(terminalreporter)
