"""Programs for test_workers.py: module-level functions, so that worker processes import them by name."""

import queue
import threading

_lock = threading.Lock()


def intermediate_state():
    """Fails only when the reader runs between the writer's two last critical sections: rare."""
    state = {"a": 0, "b": 0}

    def writer():
        for _ in range(20):
            with _lock:
                state["a"] += 1
        with _lock:
            state["b"] = 1
        with _lock:
            state["b"] = 0

    def reader():
        for _ in range(20):
            with _lock:
                b = state["b"]
            assert b == 0, "saw the intermediate state"

    _run(writer, reader)


def locked_counter():
    """Correct: every update under the lock."""
    box = {"n": 0}

    def add():
        for _ in range(10):
            with _lock:
                box["n"] += 1

    _run(add, add)
    assert box["n"] == 20


def racy_flag():
    """No assertion fails, but two threads read and write ``box['n']`` unordered: a lost update race."""
    box = {"n": 0, "m": 0}

    def add():
        for _ in range(3):
            with _lock:
                box["m"] += 1
        box["n"] = box["n"] + 1

    _run(add, add)


def two_steps():
    """Two threads of one step each: few enough schedules for the portfolio's DFS to run them all."""
    box = {"n": 0}

    def one():
        with _lock:
            box["n"] += 1

    _run(one, one)


def _run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def no_threads():
    """Nothing to choose: one schedule, which the portfolio's DFS runs and then says so."""
    assert sum(range(4)) == 6


def guarded_handshake(timeout: float = 10) -> None:
    """Correct on any machine: every timeout only guards against the worker never running."""
    started = threading.Event()
    box: queue.Queue = queue.Queue()
    lock = threading.Lock()
    barrier = threading.Barrier(2, timeout=timeout)

    def worker() -> None:
        started.set()
        barrier.wait()
        with lock:
            box.put("done")

    t = threading.Thread(target=worker)
    t.start()
    assert started.wait(timeout), "the worker did not start"
    barrier.wait()
    assert lock.acquire(timeout=timeout)
    lock.release()
    assert box.get(timeout=timeout) == "done"
    t.join(timeout=timeout)
    assert not t.is_alive(), "the worker did not end"


def seen_twice():
    """Fails only when the reader reads between the writer's two steps and again after them: two
    preemptions (dfs's iteration 2, where units change hands between workers)."""
    state = {"s": 0}

    def writer():
        for value in (1, 2):
            with _lock:
                state["s"] = value

    def reader():
        with _lock:
            first = state["s"]
        with _lock:
            second = state["s"]
        assert (first, second) != (1, 2), "saw both steps"

    _run(writer, reader)



def gate_cycle(releaser):
    """Orders a -> gate -> b (one thread) and b -> a (another): a cycle through ``gate``, a binary
    semaphore when a thread other than its taker releases it (readerwriterlock's ``read_try``).
    ``releaser``: "taker" (a mutex: a potential deadlock), "third" (another thread releases it: no
    deadlock is possible through it), or "either" (whichever of the two comes first: an execution
    where its taker released it does not show that it is a semaphore)."""
    a, b, gate, mine = threading.Lock(), threading.Lock(), threading.Lock(), threading.Lock()
    taken = threading.Event()
    released = []

    def release(who):
        with mine:
            if not released and releaser in (who, "either"):
                released.append(1)
                gate.release()

    def first():
        with a:
            gate.acquire()
        with b:
            pass
        taken.set()
        release("taker")

    def second():
        with b:
            with a:
                pass

    def third():
        taken.wait()
        release("third")

    _run(first, second, third)


def gate_sometimes_handed_over():
    gate_cycle("either")
