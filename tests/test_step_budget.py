"""explore(step_budget=...): an exploration stops before a next execution once its executions took that
many scheduling steps in all. Counted, not timed: the same seed stops at the same execution on every
machine and under any load (docs/pytest.md, ``--interlace-step-budget``)."""

from __future__ import annotations

import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)


def locked_counter() -> None:
    box = {"n": 0}
    lock = threading.Lock()

    def work() -> None:
        for _ in range(3):
            with lock:
                box["n"] += 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == 6


def _steps_of_each_execution(executions: int, **options) -> tuple[interlace.Result, list[int]]:
    steps: list[int] = []
    result = interlace.explore(locked_counter, executions=executions, seed=5, strategy="pct",
                               on_execution=lambda index, ex: steps.append(ex.step), **options)
    return result, steps


def test_the_budget_stops_the_exploration_at_the_execution_that_spends_it() -> None:
    free, steps = _steps_of_each_execution(8)
    assert free.ok and free.executions == 8 and free.steps == sum(steps) and not free.step_budget_spent
    assert all(s > 20 for s in steps)
    spent, counted = _steps_of_each_execution(8, step_budget=steps[0] + steps[1])
    assert spent.ok and spent.executions == 2 and spent.step_budget_spent
    assert counted == steps[:2] and spent.steps == steps[0] + steps[1]
    left, counted = _steps_of_each_execution(8, step_budget=steps[0] + steps[1] + 1)
    assert left.executions == 3 and counted == steps[:3] and left.step_budget_spent
    one, _ = _steps_of_each_execution(8, step_budget=1)
    assert one.executions == 1 and one.steps == steps[0] and one.step_budget_spent
    enough, _ = _steps_of_each_execution(8, step_budget=sum(steps[:7]) + 1)
    assert enough.executions == 8 and not enough.step_budget_spent  # the last execution was the 8th asked for


def one_thread() -> None:
    box = [1]
    for i in range(10):
        box.append(i)


def test_a_strategy_with_nothing_left_says_so_before_the_budget_is_looked_at() -> None:
    result = interlace.explore(one_thread, executions=50, seed=5, strategy="dfs", step_budget=1)
    assert result.exhausted and not result.step_budget_spent and result.executions == 1


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "100"])
def test_a_bad_budget_is_refused(bad) -> None:
    with pytest.raises(ValueError, match=r"step_budget must be a number of scheduling steps \(at least 1\) "
                                         r"or None, not "):
        interlace.explore(locked_counter, executions=2, step_budget=bad)


def test_the_budget_is_not_applied_with_workers() -> None:
    with pytest.raises(ValueError, match="step_budget is not applied with workers or dask"):
        interlace.explore(locked_counter, executions=4, strategy="pct", workers=2, step_budget=100)
