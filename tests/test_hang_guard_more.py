"""Hang guards where the first version missed them: asyncio's timeouts (``wait_for``, ``asyncio.timeout``),
what is left of a guarded wait (``Condition.wait_for`` after a wake-up that did not satisfy it), and a
thread busy-waiting on the clock while the others wait for it (the clock moves as it computes).

Each program is correct on any real machine; each failed (or never ended) under the exploration before.
The ``hang_guard=None`` runs show that the exploration still reaches the early timeout when asked to.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import time

import pytest

import interlace

pytestmark = pytest.mark.timeout(120)


# -- asyncio ----------------------------------------------------------------------------------------------


def future_from_a_thread(timeout: float = 10) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()

        def worker() -> None:
            loop.call_soon_threadsafe(fut.set_result, 3)

        t = threading.Thread(target=worker)
        t.start()
        assert await asyncio.wait_for(fut, timeout=timeout) == 3
        t.join()

    asyncio.run(main())


def timeout_block_on_a_thread() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        t = threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, 1))
        t.start()
        async with asyncio.timeout(10):
            assert await fut == 1
        t.join()

    asyncio.run(main())


def gather_of_many_steps() -> None:
    """More turns of a busy loop than TIMER_PATIENCE under one ``wait_for``: real work, not a poll."""
    async def main() -> None:
        q: asyncio.Queue = asyncio.Queue()
        got: list = []

        async def producer() -> None:
            for i in range(700):
                await q.put(i)
                await asyncio.sleep(0)

        async def consumer() -> None:
            for _ in range(700):
                got.append(await q.get())

        await asyncio.wait_for(asyncio.gather(producer(), consumer()), timeout=10)
        assert got == list(range(700))

    asyncio.run(main())


def quiet() -> None:
    """Silence the "Future exception was never retrieved" of a thread's set_result after a timeout."""
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)


def test_asyncio_wait_for_is_a_hang_guard():
    quiet()
    for strategy in ("random", "pct"):
        result = interlace.explore(future_from_a_thread, strategy=strategy, executions=60, seed=1)
        assert result.ok, result.report()
    early = interlace.explore(future_from_a_thread, executions=60, seed=1, hang_guard=None)
    assert early.failure is not None and early.failure.message == "TimeoutError in the main function: "
    short = interlace.explore(lambda: future_from_a_thread(0.5), executions=60, seed=1)
    assert short.failure is not None and short.failure.message == "TimeoutError in the main function: "


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
def test_asyncio_timeout_is_a_hang_guard():
    quiet()
    result = interlace.explore(timeout_block_on_a_thread, strategy="pct", executions=60, seed=1)
    assert result.ok, result.report()
    early = interlace.explore(timeout_block_on_a_thread, strategy="pct", executions=60, seed=1, hang_guard=None)
    assert early.failure is not None and early.failure.message == "TimeoutError in the main function: "


def test_a_busy_loop_does_not_expire_a_hang_guard():
    result = interlace.explore(gather_of_many_steps, executions=3, seed=1)
    assert result.ok, result.report()


def test_asyncio_hang_guards_still_expire_and_sleeps_stay_explorable():
    seen = []

    def program() -> None:
        async def main() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                await asyncio.wait_for(loop.create_future(), timeout=10)
            except asyncio.TimeoutError:
                seen.append(loop.time() - start)
            flag: list = []
            setter = threading.Thread(target=lambda: flag.append(1))
            setter.start()
            await asyncio.sleep(5)  # a sleep as synchronisation: still ended before the thread runs
            assert flag, "the setter had not run after 5 s"
            setter.join()

        asyncio.run(main())

    result = interlace.explore(program, strategy="random", executions=100, seed=1)
    assert result.failure is not None
    assert result.failure.message.startswith("AssertionError in the main function: the setter had not run after 5 s")
    assert set(seen) == {10.0}


# -- what is left of a guarded wait ------------------------------------------------------------------------


def wait_for_after_news() -> None:
    cond = threading.Condition()
    state = {"ready": False}

    def producer() -> None:
        time.sleep(9.5)
        with cond:
            cond.notify_all()  # news, but the predicate is not true yet: 0.5 s of the 10 are left
        with cond:
            state["ready"] = True
            cond.notify_all()

    t = threading.Thread(target=producer)
    t.start()
    with cond:
        assert cond.wait_for(lambda: state["ready"], timeout=10), "not ready within 10 s"
    t.join()


def test_a_guarded_wait_stays_guarded_for_its_whole_duration():
    for strategy in ("random", "pct", "dpor"):
        result = interlace.explore(wait_for_after_news, strategy=strategy, executions=60, seed=1)
        assert result.ok, result.report()
    early = interlace.explore(wait_for_after_news, strategy="pct", executions=60, seed=1, hang_guard=None)
    assert early.failure is not None
    assert early.failure.message.startswith("AssertionError in the main function: not ready within 10 s")


def test_a_queue_get_with_a_long_timeout_stays_guarded_after_a_wake_up():
    def program() -> None:
        q: queue.Queue = queue.Queue()
        got: list = []
        t = threading.Thread(target=lambda: got.append(q.get(timeout=10)))
        t.start()
        time.sleep(9.8)
        q.put(1)  # wakes the consumer ...
        try:
            q.get_nowait()  # ... which may find the queue empty again: it waits for the 0.2 s left
        except queue.Empty:
            pass
        q.put(2)
        t.join()
        assert len(got) == 1

    for strategy in ("random", "dfs"):
        result = interlace.explore(program, strategy=strategy, executions=60, seed=1)
        assert result.ok, result.report()


# -- busy-waiting on the clock while another thread waits --------------------------------------------------


def spin_then_set(seconds: float) -> None:
    ev = threading.Event()

    def spinner() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
        ev.set()

    t = threading.Thread(target=spinner)
    t.start()
    assert ev.wait(10), "no set within 10 s"
    t.join()


def spin_then_put() -> None:
    q: queue.Queue = queue.Queue()
    t = threading.Thread(target=lambda: q.get())
    t.start()
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        pass
    q.put(1)
    t.join()


@pytest.fixture
def quick_clock(monkeypatch):
    """The clock of a thread alone moves 0.5 s every 2,000 steps instead of 100,000, and a polled clock
    counts 250 us per step of work instead of 10: the same rules, fewer loop turns to wait for."""
    from interlace.runtime import execution

    monkeypatch.setattr(execution, "ALONE_WINDOW", 2_000)
    monkeypatch.setattr(execution, "WORK_STEP", 250e-6)


def test_a_busy_wait_on_the_clock_ends_while_another_thread_waits(quick_clock):
    # the clock moves for the spinner (0.5 s per ALONE_WINDOW steps) though the waiter has not ended:
    # before, it stood still and the spin never ended
    for strategy in ("random", "pct"):
        assert interlace.explore(lambda: spin_then_set(0.5), strategy=strategy, executions=3, seed=1).ok
        assert interlace.explore(spin_then_put, strategy=strategy, executions=3, seed=1).ok


def test_spinning_longer_than_a_hang_guard_expires_it(quick_clock):
    # (a schedule that runs the spinner before the main thread waits spends part of the spin's virtual
    # time before the wait begins, as a real machine would: it passes; one that waits first fails)
    result = interlace.explore(lambda: spin_then_set(10.5), executions=8, strategy="random", seed=1,
                               shrink=False)
    assert result.failure is not None
    assert result.failure.message.startswith("AssertionError in the main function: no set within 10 s")


def test_uninstrumented_code_polling_the_clock_ends():
    """``multiprocessing.connection.wait(timeout=0)`` loops until ``deadline - monotonic() < 0``, with no
    scheduling point of its own: the clock moves for it (1 ms every 1,000 reads), as real time would."""
    from multiprocessing import connection

    def program() -> None:
        reader, writer = connection.Pipe(duplex=False)
        got: list = []
        t = threading.Thread(target=lambda: got.append(connection.wait([reader], timeout=0)))
        t.start()
        t.join()
        assert got == [[]]
        reader.close()
        writer.close()

    result = interlace.explore(program, executions=2, seed=1, stuck_timeout=5)
    assert result.ok, result.report()
