"""The race detector on many new locations read by many threads: more-itertools' own
``TestConcurrentTee::test_concurrent_consumers`` body (``num_threads`` threads consume ``limit`` items of
``concurrent_tee``: each item a new ``[value, next]`` list every thread reads), one controlled execution
(``explore(executions=1, seed=1)``, the default strategy) with the detectors off and on, CPU time of this
process (steadier than wall time on a shared machine), and the GC's share: the same run with the cyclic
collector disabled. The sdist is fetched as ``bench/fidelity.py`` does (cached under ``bench/.cache``).

Usage: python bench/bench_concurrent_tee.py [--threads 100] [--items 10000] [--no-gc-split]
(the suite's size is 100 threads x 100,000 items)
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import threading
import time

import interlace

HERE = os.path.dirname(os.path.abspath(__file__))


def load_more_itertools():
    sys.path.insert(0, HERE)
    import fidelity

    sys.path.insert(0, str(fidelity.fetch("more-itertools")))
    import more_itertools

    return more_itertools


def consumers(mi, limit: int, num_threads: int) -> None:
    """The test's body, with its sizes as arguments."""
    result = 0
    result_lock = threading.Lock()

    def producer(limit):
        yield from range(limit)

    def consumer(iterator):
        nonlocal result
        reconstructed = list(iterator)
        if reconstructed == list(range(limit)):
            with result_lock:
                result += 1

    tees = mi.concurrent_tee(producer(limit), n=num_threads)
    workers = [threading.Thread(target=consumer, args=[t]) for t in tees]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert result == num_threads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--no-gc-split", action="store_true")
    args = parser.parse_args()
    mi = load_more_itertools()
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()}), "
          f"{args.threads} threads x {args.items} items")
    runs = [("detectors off", "off", True), ("detectors on", "error", True)]
    if not args.no_gc_split:
        runs.append(("detectors on, cyclic GC off", "error", False))
    for label, races, collect in runs:
        gc.enable() if collect else gc.disable()
        started = time.process_time()
        result = interlace.explore(lambda: consumers(mi, args.items, args.threads), executions=1, seed=1,
                                   races=races, shrink=False)
        spent = time.process_time() - started
        gc.enable()
        print(f"  {label:28} {spent:7.2f} s CPU  {result.steps:,} steps  {len(result.races)} race(s)", flush=True)
    with open("/proc/loadavg") as f:
        print(f"(load average {f.read().split()[0]})")


if __name__ == "__main__":
    main()
