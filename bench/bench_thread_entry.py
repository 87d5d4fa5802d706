"""Cost of the scheduling point before a managed thread's target (``runtime/patching.py``: ``_run``).

Explores programs that start 20 threads, with the patched ``Thread.run`` and with the original,
alternated in this one process, and prints the ratio of executions per second: for instrumented
targets (the wrapper finds no point to make) and for builtin ones (``list.append``: one more
scheduling point, and decision, per thread).

Usage: python bench/bench_thread_entry.py [--executions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import threading
import time

import interlace
from interlace.runtime import patching

X = 0


def work() -> None:
    global X
    X = 1


def instrumented_targets() -> None:
    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def builtin_targets() -> None:
    items: list = []
    threads = [threading.Thread(target=items.append, args=(1,)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def rate(fn: object, run: object, executions: int) -> float:
    patching._run = run  # read by RuntimePatches.install at the start of each exploration
    start = time.perf_counter()
    interlace.explore(fn, strategy="random", executions=executions, races="off", shrink=False, seed=1)
    return executions / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    patched = patching._run
    try:
        for fn in (instrumented_targets, builtin_targets):
            with_point = without = 0.0
            for _ in range(args.rounds):
                with_point += rate(fn, patched, args.executions)
                without += rate(fn, patching._real_run, args.executions)
            print(f"{fn.__name__:22} with the point {with_point / args.rounds:7.1f} executions/s, "
                  f"without {without / args.rounds:7.1f}, ratio {with_point / without:.3f}")
    finally:
        patching._run = patched


if __name__ == "__main__":
    main()
