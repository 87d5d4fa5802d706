"""Process pools made inside the explored code (runtime/outside.py), and what deciding "is this the
machinery's?" at each lock creation and thread start costs programs without a pool.

Prints executions/s of:

1. a fork ``Pool(2)`` (two threads ``apply`` on it, then ``map``) and a fork ``ProcessPoolExecutor(2)``
   (two threads ``submit().result()``), made in every execution;
2. the controls: a ``queue.Queue`` producer/consumer (every ``get``/``put`` that waits makes a Condition
   waiter lock, where the check looks at the Condition) and 20 threads started per execution (the check
   at ``start()``).

Run it with ``PYTHONPATH`` on two source trees to compare them (a tree without outside.py reports the
pools as stuck: they are skipped with ``--no-pools``).

Usage: python bench/bench_process_pool.py [--executions N] [--no-pools]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import platform
import queue
import sys
import threading
import time

import interlace


def start_and_join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def square(x: int) -> int:
    return x * x


def pool_program() -> None:
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got: list[int] = []
        threads = [threading.Thread(target=lambda i=i: got.append(pool.apply(square, (i,)))) for i in (1, 2)]
        start_and_join(threads)
        assert sorted(got) == [1, 4] and pool.map(square, range(8)) == [x * x for x in range(8)]


def executor_program() -> None:
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as executor:
        got: list[int] = []
        threads = [threading.Thread(target=lambda i=i: got.append(executor.submit(square, i).result()))
                   for i in (1, 2)]
        start_and_join(threads)
        assert sorted(got) == [1, 4]


def queue_program() -> None:
    q: queue.Queue = queue.Queue(maxsize=2)
    got: list[int] = []

    def produce() -> None:
        for i in range(20):
            q.put(i)
        q.put(None)

    def consume() -> None:
        while (item := q.get()) is not None:
            got.append(item)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    start_and_join(threads)
    assert got == list(range(20))


def threads_program() -> None:
    box = [0]
    threads = [threading.Thread(target=box.append, args=(i,)) for i in range(20)]
    start_and_join(threads)


def rate(fn, executions: int) -> tuple[float, float]:
    """Executions per second of wall-clock time, and per second of this process's CPU time (less
    sensitive to the load of a shared machine; it leaves out the pools' worker processes)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = interlace.explore(fn, executions=executions, seed=1, strategy="random", races="off")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.ok and result.executions == executions, result.failure
    return executions / elapsed, executions / cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--no-pools", action="store_true")
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, interlace at {interlace.__file__}")
    programs = [("queue.Queue producer/consumer", queue_program, args.executions),
                ("20 threads started", threads_program, args.executions)]
    if not args.no_pools:
        programs = [("fork Pool(2)", pool_program, max(args.executions // 10, 5)),
                    ("fork ProcessPoolExecutor(2)", executor_program, max(args.executions // 10, 5))] + programs
    for name, fn, executions in programs:
        rate(fn, 2)  # warm-up: imports, instrumentation cache
        wall, cpu = rate(fn, executions)
        print(f"{name:32} {wall:8.1f} executions/s, {cpu:8.1f} per CPU second ({executions} executions)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
