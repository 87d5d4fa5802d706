"""A module that is not instrumented and bound the real lock factory or clock when it was imported (an
installed library: aiologic's ``import_original("_thread", "allocate_lock")``, under culsans' queues)
makes controlled locks and reads the virtual clock in an execution, and gets its originals back after."""

from __future__ import annotations

import _thread
import importlib
import queue
import sys
import textwrap
import threading
import time

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)

_SOURCE = textwrap.dedent("""
    import _thread
    from queue import SimpleQueue
    from time import monotonic

    _allocate = _thread.allocate_lock  # bound at import, as a library that dodges monkey patching does
    _RLock = _thread.RLock


    class Waiter:
        '''A waiter that blocks in a lock of its own until another thread releases it.'''

        def __init__(self):
            self.lock = _allocate()
            self.lock.acquire()

        def wait(self):
            self.lock.acquire()

        def wake(self):
            self.lock.release()


    def now():
        return monotonic()


    def channel():
        return SimpleQueue()  # aiosqlite's connection thread takes its work from one of these
""")


@pytest.fixture
def waiters(tmp_path, monkeypatch):
    (tmp_path / "il_bound_waiters.py").write_text(_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("il_bound_waiters")
    yield module
    sys.modules.pop("il_bound_waiters", None)


def test_a_lock_made_by_an_uninstrumented_module_from_a_bound_factory_is_controlled(waiters):
    def program():
        w = waiters.Waiter()
        t = threading.Thread(target=w.wake)
        t.start()
        w.wait()  # released by the other thread: a real lock here blocks where no scheduler sees
        t.join()

    result = interlace.explore(program, executions=10, seed=1, exclude=["il_bound_waiters"], stuck_timeout=2)
    assert result.ok, result.report()
    assert waiters._allocate is _thread.allocate_lock and waiters._RLock is _thread.RLock  # given back


def test_an_uninstrumented_module_reads_the_virtual_clock_through_a_bound_monotonic(waiters):
    seen = []

    def program():
        before = waiters.now()
        time.sleep(5)  # virtual: no wall-clock wait
        seen.append(waiters.now() - before)

    started = time.monotonic()
    result = interlace.explore(program, executions=1, seed=1, exclude=["il_bound_waiters"])
    assert result.ok, result.report()
    assert seen[0] >= 5 and time.monotonic() - started < 5
    assert waiters.monotonic is time.monotonic


def test_a_simple_queue_made_by_an_uninstrumented_module_from_a_bound_class_is_controlled(waiters):
    got = []

    def program():
        q = waiters.channel()
        t = threading.Thread(target=lambda: got.append(q.get()))  # blocks until the put
        t.start()
        q.put(1)
        t.join()

    result = interlace.explore(program, executions=10, seed=1, exclude=["il_bound_waiters"], stuck_timeout=2)
    assert result.ok, result.report()
    assert got and set(got) == {1}  # every execution ran (as many as the exploration needed)
    assert waiters.SimpleQueue is queue.SimpleQueue
