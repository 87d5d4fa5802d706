"""Thread pools the execution did not make: module-level executors, lazily made ones, asyncio's use of them.

A ``ThreadPoolExecutor`` made before the exploration (at import, in a session fixture) or by an earlier
execution has workers nothing schedules. Each execution gives such a pool a state of its own at its first
``submit``/``shutdown`` (runtime/pools.py): the workers it starts are managed threads, the work is explored
like any thread's, and the pool gets its own state back when the execution ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)

POOL = cf.ThreadPoolExecutor(max_workers=2, thread_name_prefix="made-at-import")
POOL.submit(lambda: None).result()  # its first worker exists before any exploration

counts = {"n": 0}


def bump() -> None:
    n = counts["n"]
    counts["n"] = n + 1


def two_bumps_through(pool: cf.ThreadPoolExecutor) -> None:
    counts["n"] = 0
    futures = [pool.submit(bump) for _ in range(2)]
    for future in futures:
        future.result()
    assert counts["n"] == 2, counts["n"]


def explore(fn, executions: int = 50, **options) -> tuple[interlace.Result, list[tuple[int, tuple]]]:
    seen: list[tuple[int, tuple]] = []
    options.setdefault("strategy", "random")
    result = interlace.explore(fn, executions=executions, seed=3, stuck_timeout=5.0,
                               on_execution=lambda index, ex: seen.append((ex.step, tuple(ex.choices))),
                               **options)
    return result, seen


def test_a_correct_program_using_a_pool_made_at_import_passes_and_the_pool_keeps_its_own_threads():
    workers = set(POOL._threads)

    def main():
        assert POOL.submit(lambda: 41).result() == 41
        assert list(POOL.map(abs, [-1, -2, -3])) == [1, 2, 3]

    result, seen = explore(main, executions=5)
    assert result.ok and result.executions == 5 and result.failure is None
    assert set(POOL._threads) == workers and not POOL._shutdown
    assert POOL.submit(threading.current_thread).result() in workers  # its own worker answers again


def test_a_lost_update_in_work_submitted_to_a_pool_made_at_import_is_found_and_replays():
    result, seen = explore(lambda: two_bumps_through(POOL))
    assert not result.ok
    assert result.failure.message == "AssertionError in the main function: 1\nassert 1 == 2"
    again, seen_again = explore(lambda: two_bumps_through(POOL))
    assert seen_again == seen and again.executions == result.executions
    replayed = interlace.replay(lambda: two_bumps_through(POOL), result.schedule)
    assert replayed.failure.message == "AssertionError in the main function: 1\nassert 1 == 2"


def test_its_workers_are_named_as_a_new_pool_names_them_in_every_execution():
    names = []

    def main():
        names.append(POOL.submit(lambda: threading.current_thread().name).result())

    result, _ = explore(main, executions=3)
    assert result.ok and names == ["made-at-import_0"] * 3


lazy: list[cf.ThreadPoolExecutor] = []


def lazily_made_pool_program() -> None:
    if not lazy:
        lazy.append(cf.ThreadPoolExecutor(max_workers=1))
    assert lazy[0].submit(lambda: 41).result() == 41


def test_a_pool_made_by_the_first_execution_serves_every_later_one_the_same_way():
    lazy.clear()
    result, seen = explore(lazily_made_pool_program, executions=6)
    assert result.ok and result.executions == 6 and result.failure is None
    assert {steps for steps, _ in seen[1:]} == {seen[1][0]}  # from the second on, the same program
    lazy[0].shutdown()
    lazy.clear()
    again, seen_again = explore(lazily_made_pool_program, executions=6)
    assert again.ok and seen_again == seen
    lazy[0].shutdown()


def test_a_shutdown_in_an_execution_is_undone_for_the_next_and_a_pool_shut_down_before_stays_shut():
    pool = cf.ThreadPoolExecutor(max_workers=1)
    pool.submit(lambda: None).result()

    def shuts_down():
        assert pool.submit(lambda: 5).result() == 5
        pool.shutdown(wait=True)
        with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
            pool.submit(lambda: 6)

    result, _ = explore(shuts_down, executions=4)
    assert result.ok and result.executions == 4 and not pool._shutdown
    assert pool.submit(lambda: 7).result() == 7
    pool.shutdown(wait=True)

    def submits():
        pool.submit(lambda: 8)

    result, _ = explore(submits, executions=2)
    assert not result.ok
    assert result.failure.message == "RuntimeError in the main function: cannot schedule new futures after shutdown"


async def _two_bumps_in_executor() -> None:
    loop = asyncio.get_running_loop()
    await asyncio.gather(loop.run_in_executor(POOL, bump), loop.run_in_executor(POOL, bump))


def asyncio_program() -> None:
    counts["n"] = 0
    asyncio.run(_two_bumps_in_executor())
    assert counts["n"] == 2, counts["n"]


def test_run_in_executor_with_a_pool_made_at_import_is_explored():
    result, seen = explore(asyncio_program, races="off", strategy="pct")
    assert not result.ok
    assert result.failure.message == "AssertionError in the main function: 1\nassert 1 == 2"
    again, seen_again = explore(asyncio_program, races="off", strategy="pct")
    assert seen_again == seen
