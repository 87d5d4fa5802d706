"""asyncio under interlace: one controlled execution of a small asyncio program vs ``asyncio.run`` of it.

The program is a small service: 8 worker tasks take 400 requests from an ``asyncio.Queue``, look each
up in a cache under an ``asyncio.Lock`` (a miss awaits a backend call), and count them; the main task
gathers them. Every request is a few task steps, so the ratio is the cost of a step under control:
the strategy's choice among the ready tasks, the happens-before edges, the pure-Python task and the
instrumented accesses. The aim (issue 15) is at most 5x, with the detectors off; with them on is shown
too. All three are measured in this run, interleaved, best of 7.

Usage: python bench/bench_asyncio.py
"""

from __future__ import annotations

import asyncio
import platform
import time

import interlace

REQUESTS = 400
WORKERS = 8
ROUNDS = 7


def workload() -> None:
    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        lock = asyncio.Lock()
        cache: dict[int, int] = {}
        served = {"n": 0}

        async def backend(key: int) -> int:
            await asyncio.sleep(0)
            return key * 2

        async def worker() -> None:
            while True:
                key = await queue.get()
                if key is None:
                    return
                async with lock:
                    if key not in cache:
                        cache[key] = await backend(key)
                served["n"] += 1

        workers = [asyncio.create_task(worker()) for _ in range(WORKERS)]
        for i in range(REQUESTS):
            await queue.put(i % 50)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        assert served["n"] == REQUESTS

    asyncio.run(main())


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()})")
    plain = timed(workload)  # before anything is instrumented
    interlace.explore(workload, executions=1, seed=0, races="off", shrink=False)  # instrument, warm up
    off = on = float("inf")
    for _ in range(ROUNDS):  # interleaved, so that a burst of load on the machine hits all three alike
        plain = min(plain, timed(workload))
        off = min(off, timed(lambda: interlace.explore(workload, executions=1, seed=0, races="off", shrink=False)))
        on = min(on, timed(lambda: interlace.explore(workload, executions=1, seed=0, races="warn", shrink=False)))
    print(f"plain asyncio.run {plain * 1e3:.1f} ms; one controlled execution (pct): detectors off "
          f"{off * 1e3:.1f} ms ({off / plain:.1f}x), on {on * 1e3:.1f} ms ({on / plain:.1f}x)")


if __name__ == "__main__":
    main()
