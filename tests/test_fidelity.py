"""Instrumentation preserves behaviour: user subclasses of every controlled primitive, and a freshly
imported copy of ``queue``, keep the semantics and the happens-before edges of the originals; an
attribute lookup on a builtin container is not a read of its contents.

Each program is correct: data handed from one thread to another through the primitive. With
``races="error"``, a lost edge shows as a (false) race and fails the exploration.
"""

from __future__ import annotations

import queue
import threading
import time

import pytest

import interlace

try:
    from test.support.import_helper import import_fresh_module
except ImportError:  # pragma: no cover - a Python without its test package
    import_fresh_module = None


def _run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class MyCondition(threading.Condition):
    pass


class MyRLock(threading._RLock):
    pass


class MySemaphore(threading.Semaphore):
    pass


class MyBoundedSemaphore(threading.BoundedSemaphore):
    def release(self, n=1):
        super().release(n)


class MyEvent(threading.Event):
    pass


class MyBarrier(threading.Barrier):
    pass


class MyQueue(queue.Queue):
    pass


class MyLifoQueue(queue.LifoQueue):
    pass


class MyPriorityQueue(queue.PriorityQueue):
    pass


class CountingQueue(queue.Queue):
    """Its own hooks run under the queue's mutex (as the stdlib calls them)."""

    def _init(self, maxsize):
        super()._init(maxsize)
        self.puts = 0

    def _put(self, item):
        self.puts += 1
        super()._put(item)

    def _qsize(self):
        return len(self.queue)


class MyThread(threading.Thread):
    def __init__(self, box):
        super().__init__()
        self.box = box

    def run(self):
        self.box["result"] = [1, 2, 3]


def condition_program():
    cond, box = MyCondition(), {}

    def producer():
        with cond:
            box["v"] = 1
            cond.notify_all()

    def consumer():
        with cond:
            while "v" not in box:
                cond.wait()
            assert box["v"] == 1

    _run(consumer, producer)


def rlock_program():
    lock, box = MyRLock(), {"n": 0}

    def bump():
        with lock:
            with lock:
                box["n"] += 1

    _run(bump, bump)
    assert box["n"] == 2


def semaphore_program(kind=MySemaphore):
    sem, box = kind(1), {"n": 0}

    def bump():
        with sem:
            box["n"] += 1

    _run(bump, bump)
    assert box["n"] == 2


def bounded_semaphore_program():
    semaphore_program(MyBoundedSemaphore)
    sem = MyBoundedSemaphore(1)
    with pytest.raises(ValueError):
        sem.release()


def event_program():
    event, box = MyEvent(), {}

    def writer():
        box["v"] = 1
        event.set()

    def reader():
        event.wait()
        assert box["v"] == 1

    _run(reader, writer)


def barrier_program():
    barrier, slots = MyBarrier(2), [None, None]

    def party(i):
        slots[i] = i + 1
        barrier.wait()
        assert slots[1 - i] == 2 - i

    _run(lambda: party(0), lambda: party(1))


def queue_program(kind=MyQueue):
    q = kind()

    def producer():
        obj = {"v": 0}
        obj["v"] = 1
        q.put((1, obj) if kind is MyPriorityQueue else obj)

    def consumer():
        item = q.get()
        obj = item[1] if kind is MyPriorityQueue else item
        assert obj["v"] == 1

    _run(consumer, producer)


def counting_queue_program():
    q = CountingQueue()
    _run(lambda: q.put(1), lambda: q.put(2), lambda: q.qsize())
    assert q.puts == 2


def thread_program():
    box = {}
    t = MyThread(box)
    t.start()
    t.join()
    assert box["result"] == [1, 2, 3]


PROGRAMS = {
    "Condition": condition_program, "RLock": rlock_program, "Semaphore": semaphore_program,
    "BoundedSemaphore": bounded_semaphore_program, "Event": event_program, "Barrier": barrier_program,
    "Queue": queue_program, "LifoQueue": lambda: queue_program(MyLifoQueue),
    "PriorityQueue": lambda: queue_program(MyPriorityQueue), "Queue._put": counting_queue_program,
    "Thread": thread_program,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(PROGRAMS))
def test_subclass_keeps_edges_and_semantics(name):
    result = interlace.explore(PROGRAMS[name], strategy="random", executions=30, seed=1, races="error")
    assert result.ok, result.report()
    assert [r for r in result.races if not r.suppressed] == []


@pytest.mark.timeout(60)
@pytest.mark.skipif(import_fresh_module is None, reason="no test.support")
def test_fresh_copy_of_queue_keeps_edges_and_virtual_clock():
    fresh = import_fresh_module("queue")
    assert fresh.Queue is not queue.Queue

    def program():
        q = fresh.Queue()

        def producer():
            obj = {"v": 0}
            obj["v"] = 1
            q.put(obj)

        def consumer():
            assert q.get()["v"] == 1
            with pytest.raises(fresh.Empty):
                q.get(timeout=30)  # virtual: no execution waits 30 real seconds

        _run(consumer, producer)

    result = interlace.explore(program, strategy="random", executions=10, seed=1, races="error")
    assert result.ok, result.report()
    assert result.races == [] and result.elapsed < 20
    assert getattr(fresh.Queue.put, "__wrapped__", None) is None  # the copy is restored afterwards


@pytest.mark.timeout(60)
def test_getattr_on_a_builtin_container_does_not_read_its_contents():
    """``getattr(a_list, "name", None)`` reads the list's class (lists have no attributes of their
    own): it does not race with an append. A user object's attribute still does."""

    class Box:
        pass

    def program(target):
        def writer():
            target.append(1) if isinstance(target, list) else setattr(target, "name", 1)

        def reader():
            getattr(target, "name", None)
            hasattr(target, "name")

        _run(writer, reader)

    result = interlace.explore(lambda: program([]), strategy="random", executions=20, seed=1, races="error")
    assert result.ok and result.races == []
    result = interlace.explore(lambda: program(Box()), strategy="random", executions=20, seed=1, races="error")
    # a race on the attribute is still found (a note: one read and one write is no atomicity violation)
    assert {r.what for r in result.races} == {"Box.name"}


def _long_alone():
    total = 0
    for i in range(60_000):  # more loop steps than the livelock window the test sets
        total += i
    assert total == sum(range(60_000))


def _busy_wait_alone():
    end = time.monotonic() + 1
    while time.monotonic() < end:
        pass


def _spin_while_the_other_waits():
    flag, lock = [], threading.Lock()

    def other():
        with lock:
            flag.append(1)

    lock.acquire()
    t = threading.Thread(target=other)
    t.start()
    while not flag:  # the other thread needs the lock this one holds: a real livelock
        pass


@pytest.mark.timeout(60)
def test_a_long_computation_alone_is_not_a_livelock(monkeypatch):
    """A thread alone waits for no other thread: a long computation (most tests of a library never
    start a thread) runs to its end, and a busy-wait on the clock ends as the clock moves on; a spin
    while another thread is alive is still a livelock."""
    from interlace.runtime import execution

    monkeypatch.setattr(execution, "LIVELOCK_WINDOW", 30_000)
    assert interlace.explore(_long_alone, executions=1).ok
    steps: list[int] = []
    assert interlace.explore(_busy_wait_alone, executions=1, on_execution=lambda i, ex: steps.append(ex.step)).ok
    # a clock read by a thread alone applies the rule (0.5 s per 100,000 steps) itself, not every 4,096
    # points at the scheduler's slow path (8 million steps for 1 s); and the loop polls the clock, so its
    # work counts too (10 us per step): at step 100,001 the clock is at 1.5 s and the wait is over
    assert execution.ALONE_WINDOW * execution.WORK_STEP == 1.0
    assert steps == [execution.ALONE_WINDOW + 1]
    result = interlace.explore(_spin_while_the_other_waits, executions=1, shrink=False)
    assert result.failure.kind == "livelock"
    assert result.failure.message.startswith(
        "possible livelock: 30000 scheduling points with no progress (no shared write, no synchronisation, "
        "no thread starting, blocking or ending) while 'Thread-1 (other)' wait for what only it can do; "
        "thread 'MainThread' keeps running the loop at test_fidelity.py:")


class LookedUpDict(dict):
    """A dict subclass whose ``in`` is the program's own (persist-queue's ``PDict`` selects from SQLite)."""

    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list = []
        self.name = "d"

    def __contains__(self, key):
        self.looked_up.append(key)
        return False


@pytest.mark.timeout(60)
def test_attributes_of_a_dict_subclass_are_stored_without_calling_its_contains():
    made = []

    def main():
        d = LookedUpDict()
        d.name = "e"
        made.append((d.name, list(d.looked_up)))

    result = interlace.explore(main, executions=1)
    assert result.ok, result.failure
    assert made == [("e", [])]
