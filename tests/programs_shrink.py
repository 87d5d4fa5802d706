"""Small buggy threaded programs for the shrinking, report and benchmark tests.

Each program builds its own state, runs its threads to the end and asserts, like a test would. They
are ordinary threading code: interlace instruments this module when it is explored.
"""

from __future__ import annotations

import queue
import threading


def run_threads(*targets, names=None):
    threads = [threading.Thread(target=t, name=(names[i] if names else None)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Box:
    def __init__(self):
        self.value = 0


def lost_update_attribute():
    box = Box()

    def work():
        for _ in range(3):
            box.value += 1

    run_threads(work, work)
    assert box.value == 6, box.value


class Account:
    def __init__(self, balance):
        self.lock = threading.Lock()
        self.balance = balance

    def withdraw_racy(self, amount):
        with self.lock:
            ok = self.balance >= amount
        if ok:
            with self.lock:
                self.balance -= amount


def check_then_act():
    acct = Account(100)
    run_threads(lambda: acct.withdraw_racy(80), lambda: acct.withdraw_racy(80))
    assert acct.balance >= 0, acct.balance


def abba_deadlock():
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

    run_threads(one, two, names=["one", "two"])


def condition_lost_wakeup():
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


def queue_check_then_get():
    q = queue.Queue()
    q.put(1)

    def consumer():
        if not q.empty():  # the other consumer may take it first
            q.get_nowait()

    run_threads(consumer, consumer)


PROGRAMS = {
    "lost_update_attribute": (lost_update_attribute, "exception"),
    "check_then_act": (check_then_act, "exception"),
    "abba_deadlock": (abba_deadlock, "deadlock"),
    "condition_lost_wakeup": (condition_lost_wakeup, "deadlock"),
    "queue_check_then_get": (queue_check_then_get, "exception"),
}


def spin_until_set():
    """Livelock: the spinning thread waits for a flag that nobody sets."""
    box = Box()

    def spin():
        while box.value == 0:
            pass

    run_threads(spin, lambda: None)


def stop_flag_set_at_once():
    """Two workers count until the main thread, right after starting them, sets a stop flag; the main
    thread assumes they counted at least once by then (a timing assumption: the workers may not have
    run at all). A schedule that leaves the failing one's deviations early can run a worker forever:
    it makes progress (the count) while the main thread, which alone could stop it, never runs."""
    stop = threading.Event()
    lock = threading.Lock()
    count = {"n": 0}

    def worker():
        while not stop.is_set():
            with lock:
                count["n"] += 1

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    stop.set()
    for t in threads:
        t.join()
    assert count["n"] > 0, "the workers never counted"
