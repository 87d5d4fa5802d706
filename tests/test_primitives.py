"""Every controlled primitive: a bug is found through it, and a correct program passes through it.

The programs are ordinary threading code in this module; interlace instruments it in place when
``explore`` is first called (the module was imported by pytest before interlace was asked).
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed, wait

import pytest

import interlace

pytestmark = pytest.mark.timeout(120)

BUG_BUDGET = 300
OK_BUDGET = 300


def finds(fn, kind="exception", executions=BUG_BUDGET, seed=1, **kw):
    result = interlace.explore(fn, executions=executions, seed=seed, **kw)
    assert result.uninstrumented == []
    assert not result.ok, f"no failure found in {result.executions} executions"
    assert result.failure.kind == kind, result.report()
    return result


def passes(fn, executions=OK_BUDGET, seed=1, **kw):
    result = interlace.explore(fn, executions=executions, seed=seed, **kw)
    assert result.uninstrumented == []
    assert result.ok, result.report()
    assert result.executions == executions or result.exhausted  # or the default's DPOR ran every class
    return result


def run_threads(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- Thread ----------------------------------------------------------------------------------------


class Box:
    def __init__(self):
        self.value = 0


def test_thread_lost_update_on_attribute_is_found():
    def program():
        box = Box()

        def work():
            box.value += 1

        run_threads(work, work)
        assert box.value == 2, box.value

    result = finds(program)
    assert "AssertionError in the main function: 1" in result.failure.message


class Worker(threading.Thread):
    def __init__(self, shared, name):
        super().__init__(name=name)
        self.shared = shared

    def run(self):
        self.shared.append(self.name)


def test_thread_subclass_names_idents_and_is_alive():
    def program():
        shared = []
        workers = [Worker(shared, f"w{i}") for i in range(2)]
        assert [w.name for w in workers] == ["w0", "w1"]
        for w in workers:
            w.start()
        assert all(w.ident is not None for w in workers)
        for w in workers:
            w.join()
            assert not w.is_alive()
        assert sorted(shared) == ["w0", "w1"]
        assert threading.current_thread() is threading.main_thread()

    passes(program)


def test_thread_exception_in_worker_is_a_failure():
    def program():
        def boom():
            raise KeyError("missing")

        run_threads(boom)

    result = finds(program, executions=1)
    assert result.failure.message == "KeyError in thread 'Thread-1 (boom)': 'missing'"
    assert "raise KeyError" in result.failure.traceback


def test_join_with_timeout_uses_virtual_time():
    def program():
        gate = threading.Event()
        t = threading.Thread(target=gate.wait)
        t.start()
        start = time.monotonic()
        t.join(2.5)
        assert t.is_alive()
        assert time.monotonic() - start == 2.5
        gate.set()
        t.join()
        assert not t.is_alive()

    passes(program, executions=50)


# -- Lock / RLock ------------------------------------------------------------------------------------

class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()

    def withdraw_racy(self, amount):
        with self.lock:
            ok = self.balance >= amount
        if ok:  # check-then-act: the lock is released between the check and the update
            with self.lock:
                self.balance -= amount

    def withdraw(self, amount):
        with self.lock:
            if self.balance >= amount:
                self.balance -= amount


def test_lock_check_then_act_is_found():
    def program():
        acct = Account(100)
        run_threads(lambda: acct.withdraw_racy(80), lambda: acct.withdraw_racy(80))
        assert acct.balance >= 0, acct.balance

    result = finds(program)
    assert "AssertionError in the main function: -60" in result.failure.message


def test_lock_correct_program_passes():
    def program():
        acct = Account(100)
        run_threads(lambda: acct.withdraw(80), lambda: acct.withdraw(80))
        assert acct.balance == 20

    passes(program)


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.items = {}

    def add(self, key):
        with self.lock:
            if key not in self.items:
                self.items[key] = self.count() + 1

    def count(self):
        with self.lock:  # reentrant: called with the lock held
            return len(self.items)

    def add_racy(self, key):
        n = self.count()  # read outside the critical section
        with self.lock:
            self.items[key] = n + 1


def test_rlock_reentrancy_passes_and_partial_locking_is_found():
    def good():
        reg = Registry()
        run_threads(lambda: reg.add("a"), lambda: reg.add("b"))
        assert sorted(reg.items.values()) == [1, 2]

    def bad():
        reg = Registry()
        run_threads(lambda: reg.add_racy("a"), lambda: reg.add_racy("b"))
        assert sorted(reg.items.values()) == [1, 2], reg.items

    passes(good)
    finds(bad)


def test_rlock_release_by_other_thread_is_an_error():
    def program():
        lock = threading.RLock()
        lock.acquire()
        run_threads(lock.release)

    result = finds(program, executions=1)
    assert result.failure.message == "RuntimeError in thread 'Thread-1 (release)': cannot release un-acquired lock"


def test_abba_deadlock_is_reported_with_both_threads_locks_and_stacks():
    def program():
        a = threading.Lock()
        b = threading.Lock()

        def one():
            with a:
                with b:
                    pass

        def two():
            with b:
                with a:
                    pass

        t1 = threading.Thread(target=one, name="one")
        t2 = threading.Thread(target=two, name="two")
        t1.start()
        t2.start()
        t1.join()
        t2.join()

    started = time.perf_counter()
    result = finds(program, kind="deadlock")
    assert time.perf_counter() - started < 30
    msg = result.failure.message
    assert msg.startswith("deadlock: 'one' waits for Lock@test_primitives.py:")
    assert "held by 'two'" in msg and "held by 'one'" in msg
    details = "\n".join(result.failure.details)
    assert "thread 'one' waits for Lock@" in details and "thread 'two' waits for Lock@" in details
    assert "with b:" in details and "with a:" in details
    assert "holds Lock@test_primitives.py:" in details


# -- Condition -----------------------------------------------------------------------------------------


def test_condition_lost_wakeup_is_found_as_deadlock():
    def program():
        cond = threading.Condition()
        ready = []

        def waiter():
            with cond:
                if not ready:  # notify may come before the wait: no predicate loop
                    pass
                cond.wait()

        def notifier():
            with cond:
                ready.append(True)
                cond.notify()

        run_threads(waiter, notifier)

    result = finds(program, kind="deadlock")
    assert "Condition" in result.failure.message


def test_condition_with_predicate_passes():
    def program():
        cond = threading.Condition()
        items = []

        def consumer():
            with cond:
                cond.wait_for(lambda: items)
                assert items == [1]

        def producer():
            with cond:
                items.append(1)
                cond.notify_all()

        run_threads(consumer, producer)

    passes(program)


def test_condition_wait_timeout_advances_virtual_time():
    def program():
        cond = threading.Condition()
        with cond:
            start = time.monotonic()
            assert cond.wait(timeout=3) is False
            assert time.monotonic() - start == 3

    passes(program, executions=5)


# -- Semaphore / BoundedSemaphore ---------------------------------------------------------------------


def test_semaphore_too_many_permits_is_found():
    def program(permits):
        sem = threading.Semaphore(permits)
        inside = []

        def use():
            with sem:
                inside.append(1)
                assert len(inside) == 1, "two threads in the critical section"
                inside.pop()

        run_threads(use, use)

    result = finds(lambda: program(2))
    assert "two threads in the critical section" in result.failure.message
    passes(lambda: program(1))


def test_bounded_semaphore_over_release_is_found():
    def program():
        sem = threading.BoundedSemaphore(1)
        state = {"acquired": False}

        def take():
            if sem.acquire(blocking=False):
                state["acquired"] = True

        def give():
            if not state["acquired"]:  # racy check: may release a permit nobody took
                sem.release()

        run_threads(take, give)

    result = finds(program)
    assert result.failure.message == "ValueError in thread 'Thread-2 (give)': Semaphore released too many times"


def test_bounded_semaphore_balanced_use_passes():
    def program():
        sem = threading.BoundedSemaphore(2)

        def use():
            with sem:
                pass

        run_threads(use, use, use)

    passes(program)


# -- Event -----------------------------------------------------------------------------------------------


def test_event_set_before_publishing_is_found():
    def program(publish_first):
        ready = threading.Event()
        data = {}

        def producer():
            if publish_first:
                data["x"] = 1
                ready.set()
            else:
                ready.set()
                data["x"] = 1

        def consumer():
            ready.wait()
            assert data.get("x") == 1, "consumer saw the event before the data"

        run_threads(producer, consumer)

    result = finds(lambda: program(False))
    assert "consumer saw the event before the data" in result.failure.message
    passes(lambda: program(True))


# -- Barrier -----------------------------------------------------------------------------------------------


def test_barrier_phases():
    def program(use_barrier):
        barrier = threading.Barrier(2)
        results = [0, 0]

        def worker(i):
            results[i] = i + 1
            if use_barrier:
                barrier.wait()
            assert results[1 - i] == 2 - i, "read the other worker's result before it was written"

        run_threads(lambda: worker(0), lambda: worker(1))

    finds(lambda: program(False))
    passes(lambda: program(True))


def test_barrier_broken_by_timeout_raises():
    def program():
        barrier = threading.Barrier(2)
        with pytest.raises(threading.BrokenBarrierError):
            barrier.wait(timeout=1)

    passes(program, executions=3)


# -- Timer -----------------------------------------------------------------------------------------------


def test_timer_cancel_race_is_found_and_cancel_before_start_passes():
    def program(wait_before_cancel, cancel_first=False):
        fired = []
        timer = threading.Timer(1.0, lambda: fired.append(True))
        if cancel_first:
            timer.cancel()
        timer.start()
        time.sleep(wait_before_cancel)
        timer.cancel()
        timer.join()
        assert not fired, "the timer fired before it was cancelled"

    finds(lambda: program(1.0))
    # a cancel right after start() races too: no scheduler promises the main thread runs again within
    # the timer's second (the timer's wait may end first)
    finds(lambda: program(0))
    passes(lambda: program(0, cancel_first=True))


# -- threading.local -----------------------------------------------------------------------------------


def test_thread_local_is_per_thread_and_a_shared_global_is_not():
    state = threading.local()
    shared = Box()

    def program(use_local):
        def worker(i):
            if use_local:
                state.value = i
                time.sleep(0.1)
                assert state.value == i
            else:
                shared.value = i
                time.sleep(0.1)
                assert shared.value == i, "another thread overwrote the value"

        run_threads(lambda: worker(1), lambda: worker(2))

    finds(lambda: program(False))
    passes(lambda: program(True))


# -- queues ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make_queue", [queue.Queue, queue.LifoQueue, queue.PriorityQueue, queue.SimpleQueue])
def test_queue_check_then_get_is_found_and_blocking_get_passes(make_queue):
    def racy():
        q = make_queue()
        q.put(1)

        def consumer():
            if not q.empty():  # check-then-act: the other consumer may take it first
                q.get_nowait()

        run_threads(consumer, consumer)

    def correct():
        q = make_queue()
        got = []

        def producer():
            for i in range(3):
                q.put(i)

        def consumer():
            for _ in range(3):
                got.append(q.get())

        run_threads(producer, consumer)
        assert sorted(got) == [0, 1, 2]

    result = finds(racy)
    assert result.failure.message.startswith("Empty in thread 'Thread-")
    passes(correct)


def test_priority_queue_order_assumption_is_found():
    def program():
        q = queue.PriorityQueue()

        def put(n):
            q.put(n)

        run_threads(lambda: put(2), lambda: put(1))
        assert q.get() == 1
        first = []

        def consumer():
            first.append(q.get())

        t = threading.Thread(target=consumer)
        t.start()
        q.put(0)
        t.join()
        assert first == [0], "consumer ran before the smaller item arrived"

    finds(program)


def test_queue_get_timeout_and_task_done_join():
    def program():
        q = queue.Queue()
        with pytest.raises(queue.Empty):
            q.get(timeout=5)
        done = []

        def worker():
            while True:
                item = q.get()
                done.append(item)
                q.task_done()

        threading.Thread(target=worker, daemon=True).start()
        for i in range(3):
            q.put(i)
        q.join()
        assert done == [0, 1, 2]

    passes(program)


# -- concurrent.futures ----------------------------------------------------------------------------------


def test_thread_pool_lost_update_is_found():
    def program():
        totals = {"n": 0}

        def add():
            totals["n"] += 1

        with ThreadPoolExecutor(max_workers=2) as pool:
            for f in [pool.submit(add) for _ in range(2)]:
                f.result()
        assert totals["n"] == 2, totals

    result = finds(program)
    assert "AssertionError in the main function: {'n': 1}" in result.failure.message


def test_thread_pool_futures_as_completed_wait_and_shutdown_pass():
    def program():
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(pow, 2, i) for i in range(4)]
            assert sorted(f.result() for f in as_completed(futures)) == [1, 2, 4, 8]
            done, not_done = wait(futures)
            assert len(done) == 4 and not not_done
            assert list(pool.map(abs, [-1, -2])) == [1, 2]
        pool.shutdown(wait=True)

    passes(program)


def test_future_exception_is_observed():
    def program():
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(int, "x")
            assert isinstance(future.exception(), ValueError)

    passes(program, executions=20)


# -- time -----------------------------------------------------------------------------------------------


def test_sleep_is_virtual_and_wakes_in_either_order():
    orders = set()

    def program():
        order = []

        def sleeper(delay, tag):
            time.sleep(delay)
            order.append(tag)

        started = time.monotonic()
        run_threads(lambda: sleeper(30, "slow"), lambda: sleeper(10, "fast"))
        orders.add((*order, time.monotonic() - started))  # each sleep lasts what it asked, in virtual seconds

    wall = time.perf_counter()
    passes(program, executions=100)
    assert time.perf_counter() - wall < 20  # 100 executions x 30 virtual seconds
    # the slow sleeper may wake before the fast one even began its sleep (nothing orders them; the fast
    # one then sleeps from there: 40), and a woken sleeper may run after one woken later
    orders.clear()
    result = interlace.explore(program, executions=100, strategy="dpor")
    assert result.ok and result.exhausted
    assert orders == {("fast", "slow", 30), ("slow", "fast", 30), ("fast", "slow", 40), ("slow", "fast", 40)}


@pytest.mark.parametrize("strategy", ["random", "pct", "pos", "portfolio"])
def test_pollers_that_wake_early_do_not_starve_the_holder(strategy):
    """20 threads take a lock by polling it with ``sleep(0.05)`` (filelock's ``SoftFileLock`` does so);
    plainly the program takes about a second. A sleep may end before a runnable thread runs, but not
    again and again: before the early wakes owed the others their work (EARLY_FREE), a poller woke
    early at nearly every decision while the holder waited, and the virtual clock ran to 41 s with
    random (every execution) and 973 s with the portfolio (seed 1)."""
    spans = []

    def program():
        gate = threading.Lock()
        done = []

        def user():
            for _ in range(10):
                while not gate.acquire(blocking=False):
                    time.sleep(0.05)
                done.append(1)
                gate.release()

        started = time.monotonic()
        run_threads(*[user] * 20)
        spans.append(time.monotonic() - started)
        assert len(done) == 200

    result = interlace.explore(program, executions=10, seed=1, strategy=strategy, races="off")
    assert result.ok and len(spans) == 10
    assert max(spans) <= 1.5, spans


def _sleep_as_synchronisation():
    done = []

    def worker():
        done.append(1)

    def waiter():
        time.sleep(0.5)  # "long enough for the worker": no scheduler promises that
        assert done, "woke before the worker ran"

    run_threads(waiter, worker)


def _sleep_then_join():
    done = []

    def worker():
        time.sleep(0.5)
        done.append(1)

    t = threading.Thread(target=worker)
    t.start()
    t.join()  # a real order: the join waits however long the sleep lasts
    assert done


@pytest.mark.parametrize("strategy", ["dpor", "pct", "random", "dfs"])
def test_a_sleeper_may_wake_before_the_others_progress(strategy):
    # before, the virtual clock woke a sleeper only when no other thread could run: dpor reported all
    # interleaving classes explored and the others never failed
    result = finds(_sleep_as_synchronisation, executions=50, strategy=strategy)
    assert "woke before the worker ran" in result.failure.message
    assert result.executions <= 10
    ordered = interlace.explore(_sleep_then_join, executions=50, strategy=strategy, seed=1)
    assert ordered.ok, ordered.report()
    if strategy == "dpor":
        assert ordered.exhausted


def test_livelock_is_reported_with_the_spinning_loop():
    def program():
        flag = []

        def spin():
            while not flag:
                pass

        run_threads(spin)

    result = finds(program, kind="livelock", executions=1, max_steps=2000)
    assert "keeps running the loop at test_primitives.py:" in result.failure.message
    assert "while not flag:" in result.failure.message


def test_real_lock_created_before_the_execution_is_controlled():
    lock = threading.Lock()  # created outside any execution: a real lock

    def program():
        box = Box()

        def work():
            with lock:
                box.value += 1

        run_threads(work, work)
        assert box.value == 2

    passes(program)


# -- blocking outside the scheduler's control ------------------------------------------------------------


def test_thread_blocked_in_a_socket_lets_the_others_run():
    import socket

    def program():
        left, right = socket.socketpair()
        got = []

        def reader():
            got.append(left.recv(16))  # blocks in C until the writer runs

        def writer():
            right.sendall(b"hello")

        try:
            run_threads(reader, writer)
        finally:
            left.close()
            right.close()
        assert got == [b"hello"]

    passes(program, executions=3)


def test_thread_stuck_forever_is_reported_not_hung():
    import socket

    left, right = socket.socketpair()

    def program():
        t = threading.Thread(target=lambda: left.recv(16), name="reader", daemon=True)
        t.start()
        t.join()

    started = time.perf_counter()
    try:
        result = finds(program, kind="stuck", executions=1, stuck_timeout=1.5)
    finally:
        right.sendall(b"bye")  # let the abandoned thread finish
        left.close()
        right.close()
    assert time.perf_counter() - started < 15
    assert result.failure.message.startswith("thread 'reader' is stuck outside interlace's control")
    assert "left.recv(16)" in result.failure.details[0]


def test_a_thread_alone_in_c_for_longer_than_the_stuck_timeout_is_not_stuck():
    # nobody waits for it: under load, a slow single-threaded computation (more-itertools'
    # FactorTests::test_cross_check, 0.1 s plainly) was reported stuck
    import hashlib

    def program():
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        hashlib.pbkdf2_hmac("sha256", b"x", b"y", 500_000)  # C, with no scheduling point: 0.2-0.3 s

    started = time.perf_counter()
    passes(program, executions=1, stuck_timeout=0.05)
    assert time.perf_counter() - started > 0.1  # (the computation did take longer than the stuck timeout)


def test_dict_changed_size_during_iteration_is_found():
    def program():
        prices = {"a": 1, "b": 2}

        def report():
            total = 0
            for name in prices:
                total += prices[name]

        def add():
            prices["c"] = 3

        run_threads(report, add)

    result = finds(program)
    assert result.failure.message == (
        "RuntimeError in thread 'Thread-1 (report)': dictionary changed size during iteration")


def test_thread_pool_exploration_is_the_same_in_every_process():
    import subprocess
    import sys

    script = (
        "import interlace, hashlib\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def program():\n"
        "    box = {'n': 0}\n"
        "    def task():\n"
        "        box['n'] = box['n'] + 1\n"
        "    with ThreadPoolExecutor(max_workers=3) as pool:\n"
        "        for f in [pool.submit(task) for _ in range(4)]:\n"
        "            f.result()\n"
        "seqs = []\n"
        "interlace.explore(program, executions=30, seed=3, races='off',\n"
        "                  on_execution=lambda i, ex: seqs.append(tuple(ex.choices)))\n"
        "print(hashlib.sha1(repr(seqs).encode()).hexdigest())\n"
    )
    import os

    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              check=True, env=env).stdout for _ in range(3)}
    assert len(outputs) == 1


def test_enumerate_active_count_and_daemon_threads():
    def program():
        gate = threading.Event()
        worker = threading.Thread(target=gate.wait, name="waiter")
        background = threading.Thread(target=threading.Event().wait, name="forever", daemon=True)
        worker.start()
        background.start()
        names = {t.name for t in threading.enumerate()}
        assert {"waiter", "forever", threading.current_thread().name} <= names
        assert threading.active_count() >= 3
        assert background.daemon and not worker.daemon
        gate.set()
        worker.join()
        # the daemon thread is still blocked when the main function returns: like at interpreter
        # exit, that is not a failure

    passes(program, executions=50)


def test_non_daemon_thread_left_running_is_waited_for():
    finished = []

    def program():
        def slow():
            time.sleep(5)
            finished.append(True)

        threading.Thread(target=slow).start()  # never joined: the execution still waits for it

    result = passes(program, executions=5)
    assert finished == [True] * result.executions


def test_patches_are_removed_after_exploring_even_for_modules_imported_meanwhile():
    import concurrent.futures.thread as cf_thread

    real_lock_type = type(threading.Lock())
    before = (threading.Lock, time.sleep, queue.SimpleQueue, threading.Thread.start, cf_thread._global_shutdown_lock)

    def program():
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(int).result()

    passes(program, executions=3)
    after = (threading.Lock, time.sleep, queue.SimpleQueue, threading.Thread.start, cf_thread._global_shutdown_lock)
    assert after == before
    assert type(cf_thread._global_shutdown_lock) is real_lock_type


def test_module_level_pool_lock_is_real_again_when_the_pool_module_is_first_imported_by_the_program():
    import os
    import subprocess
    import sys

    script = (
        "import sys, threading, interlace\n"
        "def program():\n"
        "    from concurrent.futures import ThreadPoolExecutor\n"
        "    with ThreadPoolExecutor(max_workers=1) as pool:\n"
        "        pool.submit(int).result()\n"
        "interlace.explore(program, executions=3, seed=0)\n"
        "import concurrent.futures.thread as t\n"
        "print(type(t._global_shutdown_lock) is type(threading.Lock()))\n"
    )
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == "True", out.stderr


def test_thread_identities_are_virtual_inside_and_real_outside():
    from interlace.runtime.patching import VIRTUAL_IDENT_BASE, VIRTUAL_NATIVE_ID_BASE

    seen = []

    def work():
        seen.append((threading.get_ident(), threading.current_thread().ident, threading.get_native_id()))

    def body():
        seen.clear()
        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        seen.append((threading.get_ident(), ts[0].ident, ts[1].native_id))

    result = interlace.explore(body, executions=5, seed=3, strategy="random")
    assert result.ok, result.report()
    one, two = VIRTUAL_IDENT_BASE + 0x1000, VIRTUAL_IDENT_BASE + 0x2000
    assert sorted(seen[:2]) == [(one, one, VIRTUAL_NATIVE_ID_BASE + 1), (two, two, VIRTUAL_NATIVE_ID_BASE + 2)]
    assert seen[2] == (VIRTUAL_IDENT_BASE, one, VIRTUAL_NATIVE_ID_BASE + 2)
    # outside an execution: the real values, and the original property
    assert threading.get_ident() == threading.current_thread().ident != VIRTUAL_IDENT_BASE
    assert threading.Thread.ident.fget.__module__ == "threading"


def _join_timeout_as_synchronisation():
    done = []

    def worker():
        done.append(1)

    t = threading.Thread(target=worker)
    t.start()
    t.join(0.5)  # the wait may end before the worker ran
    assert done, "the join timed out first"


@pytest.mark.parametrize("strategy", ["dpor", "pct", "random"])
def test_a_join_with_a_timeout_may_time_out_before_the_thread_ends(strategy):
    result = finds(_join_timeout_as_synchronisation, executions=50, strategy=strategy)
    assert "the join timed out first" in result.failure.message
