"""Threads an earlier execution ended while they ran, still kept by an object made before the exploration.

Every execution ends the threads it started. A pool of its own kind made before the exploration (as
pebble's ``ThreadPool`` at import) that starts its threads on first use keeps, in the next execution,
threads that are gone: the program would see another world (runtime/leftovers.py). That execution ends
with a "leftover" failure naming the thread, the object that keeps it, and the fix.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)


class LazyPool:
    """A one-thread pool that starts its thread on first use and checks on it, as pebble's does."""

    def __init__(self) -> None:
        self.loop: threading.Thread | None = None
        self.work: queue.Queue = queue.Queue()

    def submit(self, fn):
        if self.loop is None:
            self.loop = threading.Thread(target=self._serve, daemon=True, name="lazy-loop")
            self.loop.start()
        elif not self.loop.is_alive():
            raise RuntimeError("the pool broke")
        future: Future = Future()
        self.work.put((fn, future))
        return future

    def _serve(self) -> None:
        while True:
            fn, future = self.work.get()
            future.set_result(fn())


def explore(fn, executions: int = 3) -> interlace.Result:
    return interlace.explore(fn, executions=executions, seed=1, strategy="random", stuck_timeout=5.0)


def test_a_pool_made_before_the_exploration_whose_thread_an_earlier_execution_started_is_named():
    pool = LazyPool()
    result = explore(lambda: pool.submit(lambda: 41).result())
    assert result.failure is not None and result.failure.kind == "leftover", result.failure
    message = result.failure.message
    assert message.startswith("thread 'lazy-loop' was started by an earlier execution of this exploration and "
                              "ended with it, but the program still keeps it, kept by "
                              "test_leftover_threads.LazyPool (its loop), and calls its is_alive()")
    assert "Make the test_leftover_threads.LazyPool inside the explored function" in message
    assert result.executions == 2  # the first execution ran as the program would


def test_joining_such_a_thread_is_named_too():
    kept: list[threading.Thread] = []

    def main():
        if kept:
            kept[0].join()
        else:
            thread = threading.Thread(target=threading.Event().wait, daemon=True, name="waits-for-ever")
            kept.append(thread)
            thread.start()

    result = explore(main)
    assert result.failure is not None and result.failure.kind == "leftover"
    assert "'waits-for-ever'" in result.failure.message and "calls its join()" in result.failure.message


def test_the_same_pool_made_inside_the_explored_function_passes_every_execution():
    def main():
        assert LazyPool().submit(lambda: 41).result() == 41

    result = explore(main, executions=5)
    assert result.ok and result.executions == 5


def test_a_thread_that_ended_in_an_earlier_execution_is_no_leftover():
    kept: list[threading.Thread] = []

    def main():
        if kept:
            assert not kept[0].is_alive()
            kept[0].join()  # returns at once, as it would without interlace
        else:
            thread = threading.Thread(target=lambda: None, name="done")
            kept.append(thread)
            thread.start()
            thread.join()

    result = explore(main)
    assert result.ok and result.executions == 3


def test_a_thread_an_earlier_exploration_left_is_named_as_such():
    pool = LazyPool()
    first = explore(lambda: pool.submit(lambda: 41).result(), executions=1)  # (an earlier test)
    assert first.ok
    result = explore(lambda: pool.submit(lambda: 41).result(), executions=1)
    assert result.failure is not None and result.failure.kind == "leftover"
    assert result.failure.message.startswith("thread 'lazy-loop' was started by an execution of an earlier "
                                             "exploration and ended with it")
    assert "explore one execution" not in result.failure.message
