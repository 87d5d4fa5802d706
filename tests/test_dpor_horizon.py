"""DPOR's horizon: on a long execution DPOR traces and decides the first ``horizon`` events only, says so
in its coverage, and the portfolio then goes on exploring instead of claiming a proof."""

from __future__ import annotations

import pytest
from test_strategies_systematic import _run
from test_strategies_systematic import locked_failing_never as locked_counter
from test_strategies_systematic import lost_update_failing as lost_update

import interlace
from interlace.strategies import DPOR, Portfolio, make_strategy
from interlace.strategies.dpor.strategy import HORIZON, SPIN_LIMIT

pytestmark = pytest.mark.timeout(120)

X = 0


def long_counter():
    """Two threads, 300 unlocked increments each: about 1,200 events."""
    global X
    X = 0

    def work():
        global X
        for _ in range(300):
            X = X + 1

    _run(work, work)


def _explore(fn, strategy, executions=100, **kw):
    traces: list[int] = []
    result = interlace.explore(fn, strategy=strategy, executions=executions, races="off", shrink=False,
                               on_execution=lambda i, ex: traces.append(len(ex.trace)), **kw)
    return result, traces


def test_the_default_horizon_is_the_documented_one():
    assert make_strategy("dpor", 0).horizon == HORIZON == 20_000
    assert Portfolio(0).dpor.horizon == HORIZON


def test_dpor_explores_the_classes_of_each_prefix_and_says_so():
    whole, traces = _explore(locked_counter, "dpor")
    assert whole.coverage_line() == "all 6 interleaving classes explored (DPOR), no failure"
    assert whole.coverage["horizon"] is None and set(traces) == {30}
    cut, traces = _explore(locked_counter, DPOR(0, horizon=20))
    assert cut.ok and cut.exhausted and cut.executions == 4
    assert cut.coverage["horizon"] == 20
    assert cut.coverage_line() == "all 4 interleaving classes of the first 20 events explored (DPOR), no failure"
    assert max(traces) <= 20  # the trace stops at the horizon: memory does not grow with the execution


def test_an_execution_shorter_than_the_horizon_is_not_cut():
    result, traces = _explore(locked_counter, DPOR(0, horizon=30))
    assert result.coverage["horizon"] is None
    assert result.coverage_line() == "all 6 interleaving classes explored (DPOR), no failure"


def test_a_bug_within_the_horizon_is_found_as_without_it():
    whole, _ = _explore(lost_update, "dpor")
    cut, _ = _explore(lost_update, DPOR(0, horizon=20))
    assert not whole.ok and not cut.ok
    assert cut.failure.message == whole.failure.message
    assert cut.executions == whole.executions == 2


def test_past_the_horizon_the_running_thread_goes_on_for_spin_limit_points_without_asking():
    asked: list[int] = []
    steps: list[int] = []
    interlace.explore(long_counter, strategy=DPOR(0, horizon=50), executions=1, races="off",
                      on_execution=lambda i, ex: (asked.append(ex.asked), steps.append(ex.step)))
    # DPOR decides every point of the first 50 events (1,211 decisions without a horizon); after them
    # one decision per SPIN_LIMIT points
    assert steps[0] == 1819
    assert asked[0] == 84 < 50 + steps[0] // SPIN_LIMIT + 10


def test_the_portfolio_goes_on_after_dpor_ran_every_class_of_its_prefixes():
    cut, traces = _explore(locked_counter, Portfolio(0, horizon=20), executions=40)
    # DPOR's 4 prefix classes on executions 0, 3, 6, 9; then its executions go to another PCT member
    assert cut.ok and not cut.exhausted and cut.executions == 40
    assert cut.coverage is None and cut.coverage_line() is None
    assert all(0 < traces[i] <= 20 for i in (0, 3, 6, 9))
    assert all(traces[i] == 0 for i in range(12, 40, 3))  # PCT keeps no trace
    proved, _ = _explore(locked_counter, Portfolio(0), executions=40)
    assert proved.exhausted and proved.executions == 18


def test_the_member_that_takes_dpors_turns_is_deterministic():
    runs = []
    for _ in range(2):
        choices: list = []
        interlace.explore(long_counter, strategy=Portfolio(5, horizon=40), executions=30, races="off",
                          on_execution=lambda i, ex, out=choices: out.append(tuple(ex.choices)))
        runs.append(choices)
    assert runs[0] == runs[1]


def alone_then_two():
    """The main thread alone for about 600 events, then two threads: DPOR is first asked far past a
    horizon of 50."""
    global X
    X = 0
    for _ in range(300):
        X = X + 1
    _run(lambda: None, lambda: None)


def test_the_trace_stops_at_the_horizon_while_one_thread_runs_alone():
    # DPOR is not asked while one thread can run, so it cannot stop the trace itself there
    for strategy in (DPOR(0, horizon=50), Portfolio(0, horizon=50)):
        result, traces = _explore(alone_then_two, strategy, executions=1)
        assert traces == [50], strategy
    whole, traces = _explore(alone_then_two, DPOR(0), executions=1)
    assert traces[0] > 600  # not cut by the default horizon
