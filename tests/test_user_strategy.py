"""A strategy written by the user, in a module interlace instruments (a test file, a script): its code
runs inside the scheduler, and its own attribute reads are not the program's.

Before the fix, a ``thread_created`` that read an attribute made a scheduling point while a thread was
being started, after it became runnable and before its OS thread existed; the strategy chose it there
and the starter waited for a thread that could not run: "stuck outside interlace's control" in every
execution (SCTBench's reorder with the checker above the setters)."""

from __future__ import annotations

import inspect
import os
import sys

import pytest

import interlace
from interlace.strategies import PCT, Strategy

pytestmark = pytest.mark.timeout(120)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
try:
    from corpus._reorder_many import reorder as _reorder
finally:
    sys.path.pop(0)


class CheckerFirst(PCT):
    """PCT with the checker (the last thread) above every setter, as a user would write it."""

    def __init__(self, seed: int, checker: int) -> None:
        super().__init__(seed, depth=3)
        self.checker = checker

    def thread_created(self, tid: int) -> None:
        super().thread_created(tid)
        if tid == self.checker:
            self.priorities[tid] = 100.0


class LastEnabled(Strategy):
    """Always the highest enabled thread; remembers how many could run at each decision."""

    def __init__(self) -> None:
        super().__init__(0)
        self.widths: list[int] = []

    def choose(self, enabled: list[int], current: int | None, execution: object) -> int:
        self.widths.append(len(enabled))
        return enabled[-1]


def test_a_user_strategy_that_reads_attributes_at_thread_creation_is_not_stuck():
    result = interlace.explore(lambda: _reorder(9), strategy=CheckerFirst(1, checker=10), seed=1, executions=20,
                               races="off", shrink=False, stuck_timeout=2)
    assert result.failure is None or result.failure.kind != "stuck", result.failure
    assert result.ok and result.executions == 20


def test_a_user_strategy_choose_makes_no_scheduling_point_of_its_own():
    # a scheduling point inside choose() re-entered the scheduler (which failed the execution); its reads
    # are not in the trace either, nor do they count as decisions
    strategy = LastEnabled()
    executions = []
    result = interlace.explore(lambda: _reorder(3), strategy=strategy, seed=1, executions=1, races="off",
                               shrink=False, stuck_timeout=2, on_execution=lambda i, ex: executions.append(ex))
    assert result.ok
    ex = executions[0]
    lines, first = inspect.getsourcelines(LastEnabled.choose)
    inside = range(first, first + len(lines))
    assert not [e for e in ex.trace if e.site and e.site[0] == __file__ and e.site[1] in inside]
    assert ex.asked == len(strategy.widths) == 24
    assert list(ex.choices) == [1] * 6 + [2] * 6 + [3] * 6 + [4] * 6  # each thread runs to its end once started
    assert strategy.widths == [2] * 24
