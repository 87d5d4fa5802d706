"""The native call hook's cache (``interlace._speedups.Callees``): CPU time of one controlled execution of
call-heavy programs with the cache and without it, measured in this one run (the same process, the same
C hooks: without the cache every call asks the Python classifier, as before the cache existed), and
each against the program run plainly.

- ``index loop``: one thread calling ``bytearray.index`` a million times (more-itertools' ``sieve``/
  ``iter_index``, whose ``test_primes`` makes 46 million such calls), plus an instrumented helper;
- ``library calls``: one thread calling instrumented functions, a bound method, pure builtins, a
  standard-library function and class (call points of the fast path);
- ``container methods``: one thread appending to a list and a deque and popping from the deque (each
  call one atomic access of the whole container, made by the C ``AccessCall`` the hook returns);
- ``serialize``: 10 threads taking 100,000 items from a generator behind a lock (more-itertools'
  ``serialize``; its test takes 10**6), with the race detector on and off.

CPU time (user + system of this process) is the best of ``--rounds``: other processes on the machine
disturb it less than the wall clock. Usage: python bench/bench_calls.py [--rounds R] [--scale S]
"""

from __future__ import annotations

import argparse
import collections
import platform
import resource
import sys
import textwrap
import threading

import interlace
from interlace.drivers.session import Session
from interlace.strategies import make_strategy

SCALE = {"n": 1}


def _twice(x: int) -> int:
    return x * 2


class Box:
    def __init__(self) -> None:
        self.total = 0

    def add(self, k: int) -> None:
        self.total = self.total + k


def index_loop() -> None:
    data = bytearray((0, 1)) * (500_000 * SCALE["n"])
    find = data.index
    stop = len(data)
    i, n = 0, 0
    try:
        while True:
            i = find(1, i + 1, stop)
            n += _twice(1)
    except ValueError:
        pass
    assert n == 2 * (len(data) // 2)


def library_calls() -> None:
    box = Box()
    for i in range(100_000 * SCALE["n"]):
        box.add(_twice(i) + abs(-i) + "a-b".count("-"))
        if i % 100 == 0:
            textwrap.dedent("  x")


def container_methods() -> None:
    items: list = []
    queue: collections.deque = collections.deque()
    for i in range(100_000 * SCALE["n"]):
        items.append(i)
        queue.append(i)
        queue.popleft()
    assert len(items) == 100_000 * SCALE["n"]


class Serialized:
    def __init__(self, iterable) -> None:
        self._iterator = iter(iterable)
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._iterator)


def serialize() -> None:
    limit = 100_000 * SCALE["n"]
    results: list = []

    def produce():
        yield from range(limit)

    def consume(items) -> None:
        total = 0
        for x in items:
            total += x
        results.append(total)

    items = Serialized(produce())
    threads = [threading.Thread(target=consume, args=(items,)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == limit * (limit - 1) // 2


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def plain(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = cpu()
        fn()
        best = min(best, cpu() - started)
    return best


def controlled(fn, races: str, cache: bool, rounds: int) -> tuple[float, int]:
    """The best CPU time of one execution (PCT, seed 1), and its scheduling steps."""
    best, steps = float("inf"), 0
    with Session(fn, (), (), races=races, replayable=True) as session:
        if not cache:
            session.classifier.native = None  # every call asks the Python classifier
        for _ in range(rounds):
            strategy = make_strategy("pct", 1)
            strategy.begin(0)
            started = cpu()
            ex = session.run(strategy, "free-threaded", None)
            best = min(best, cpu() - started)
            assert ex.failure is None, ex.failure
            steps = ex.step
    return best, steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    SCALE["n"] = args.scale
    from interlace.runtime import fastpath

    if fastpath.native() is None:
        sys.exit("this bench compares the native call hook with and without its cache: build the extension "
                 "and unset INTERLACE_PURE")
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()}), "
          f"CPU seconds, best of {args.rounds}")
    print()
    print(f"{'program':<22} {'races':<6} {'steps':>9} {'plain':>7} {'no cache':>9} {'cache':>7} "
          f"{'x plain':>8} {'speed-up':>9}")
    rows = [("index loop", index_loop, "error"), ("library calls", library_calls, "error"),
            ("container methods", container_methods, "error"),
            ("serialize, 10 threads", serialize, "error"), ("serialize, 10 threads", serialize, "off")]
    for name, fn, races in rows:
        base = plain(fn, args.rounds)
        without, steps = controlled(fn, races, False, args.rounds)
        with_cache, steps_cached = controlled(fn, races, True, args.rounds)
        assert steps == steps_cached  # the same scheduling points either way
        print(f"{name:<22} {races:<6} {steps:>9,} {base:>7.3f} {without:>9.3f} {with_cache:>7.3f} "
              f"{with_cache / base:>7.1f}x {without / with_cache:>8.2f}x")


if __name__ == "__main__":
    main()
