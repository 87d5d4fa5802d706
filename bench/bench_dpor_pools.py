"""DPOR's interleaving classes of small programs that use thread pools and asyncio executors.

The standard library's pools run on internal locks (their queue, idle semaphore, futures' conditions,
each worker's start) that DPOR models as locations (docs/strategies.md, "Hand-offs"): how many classes
a program that does nothing interesting has is the cost of that model. Each program runs under
``strategy="dpor"`` until it is exhausted or the budget ends; printed: classes, whether DPOR ran them
all, and seconds.

Usage: python bench/bench_dpor_pools.py [--budget 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import platform
import sys
import time

import interlace


def nothing() -> None:
    pass


def pool(workers: int, tasks: int):
    def program() -> None:
        with cf.ThreadPoolExecutor(workers) as executor:
            for future in [executor.submit(nothing) for _ in range(tasks)]:
                future.result()
    return program


def executor_calls(calls: int):
    async def main() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, nothing) for _ in range(calls)))

    def program() -> None:
        asyncio.run(main())
    return program


PROGRAMS = {
    "pool of 1 worker, 2 tasks": pool(1, 2),
    "pool of 2 workers, 2 tasks": pool(2, 2),
    "asyncio, 1 run_in_executor": executor_calls(1),
    "asyncio, 2 run_in_executor": executor_calls(2),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20000)
    args = parser.parse_args()
    print(f"Python {platform.python_version()} on {platform.machine()}, budget {args.budget}")
    for name, program in PROGRAMS.items():
        start = time.perf_counter()
        result = interlace.explore(program, executions=args.budget, strategy="dpor", races="off")
        print(f"{name:30} {result.executions:7} classes  exhausted={result.exhausted}  "
              f"{time.perf_counter() - start:6.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
