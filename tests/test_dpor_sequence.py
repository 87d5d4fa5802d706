"""DPOR's exact sequence of executions on a few programs, pinned (issue 14, item 4).

DPOR's analysis after each execution (transitions, vector clocks, races, wakeup trees) was made faster
without changing what it explores: these digests were taken before the optimization, so any change in
the set or the order of the schedules DPOR runs (or the portfolio, which runs DPOR on every third
execution) fails here. Each digest is the SHA-256 of the list of every execution's decisions.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(120)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
try:
    from bench_default_speed import locked_counter  # the correct program the speed bench measures
finally:
    sys.path.pop(0)

state: dict = {}


class Box:
    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.items: dict = {}


def shared_data() -> None:
    """Unlocked accesses of attributes and dict keys by three threads, and a lock for some of them."""
    box = Box()
    lock = threading.Lock()

    def one() -> None:
        box.x = box.x + 1
        box.items["a"] = 1
        with lock:
            box.y += 1

    def two() -> None:
        if box.x:
            box.items["b"] = 2
        with lock:
            box.y += 2
        box.x = 5

    def three() -> None:
        box.items.get("a")
        box.y = box.y + box.x

    threads = [threading.Thread(target=f) for f in (one, two, three)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def handoffs() -> None:
    """A queue, an event and a condition: the hidden events of the standard library's internal locks."""
    q: queue.Queue = queue.Queue()
    ready = threading.Event()
    cond = threading.Condition()
    flag = []

    def producer() -> None:
        q.put(1)
        q.put(2)
        ready.set()
        with cond:
            flag.append(1)
            cond.notify()

    def consumer() -> None:
        q.get()
        ready.wait()
        with cond:
            while not flag:
                cond.wait()
        q.get()

    threads = [threading.Thread(target=f) for f in (producer, consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _sequence(fn, strategy: str, executions: int, model: str = "free-threaded") -> tuple[int, str, list]:
    runs: list = []
    result = interlace.explore(fn, strategy=strategy, executions=executions, seed=7, races="off", shrink=False,
                               model=model, on_execution=lambda i, ex: runs.append(tuple(ex.choices)))
    assert result.ok, result.failure
    digest = hashlib.sha256(repr(runs).encode()).hexdigest()[:16]
    return len(runs), digest, runs


@pytest.mark.parametrize(("fn", "strategy", "executions", "model", "expected"), [
    (locked_counter, "dpor", 150, "free-threaded", (150, "379e0252c6f240a4")),
    (shared_data, "dpor", 400, "free-threaded", (307, "bed5ea645f244720")),
    (shared_data, "dpor", 120, "gil", (120, "d5aaa895a10e7c48")),
    (handoffs, "dpor", 400, "free-threaded", (157, "94bd90ab55a8fe55")),
    # the portfolio's PCT(2) became a PCT(2) at acquires (session 6): its executions after its first
    # (index 2 mod 6, from 8) changed, 13 of the 90 in each, and no other; before: 7c3cce263e606b00
    # and 1109f479c999d422. Its second PCT(3) became a PCT(3) newest first (session 11): its executions
    # (index 5 mod 6) changed, 15 and 12 of the 90, and no other; before: 5be7e31682b92cfa and
    # 8bf3e76dcde4aa69
    (locked_counter, "portfolio", 90, "free-threaded", (90, "15ed02f747aa28f5")),
    (shared_data, "portfolio", 90, "free-threaded", (90, "50c1045d1e4f26db")),
])
def test_dpor_runs_the_same_executions(fn, strategy, executions, model, expected):
    count, digest, _ = _sequence(fn, strategy, executions, model)
    assert (count, digest) == expected
