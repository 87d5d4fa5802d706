"""Race detector overhead, measured in one run:

1. one controlled execution with the detectors on vs off (aim: at most 2x);
2. ``interlace.detect`` (real threads, detectors only) vs plain Python (aim: at most 15x, the range
   of ThreadSanitizer).

The workload has many shared accesses: two threads each update attributes and dict items of shared
objects under a lock, 3,000 times.

Usage: python bench/bench_detector.py
"""

from __future__ import annotations

import platform
import threading
import time

import interlace

ROUNDS = 3000


class Account:
    def __init__(self) -> None:
        self.balance = 0
        self.history: dict[int, int] = {}
        self.lock = threading.Lock()


def workload() -> None:
    account = Account()

    def work(sign: int) -> None:
        for i in range(ROUNDS):
            with account.lock:
                account.balance += sign
                account.history[i % 16] = account.balance

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, -1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert account.balance == 0


def best(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()})")
    plain = best(workload)  # before anything is instrumented
    interlace.explore(workload, executions=1, seed=0, races="off", shrink=False)  # instrument, warm up
    off = best(lambda: interlace.explore(workload, executions=1, seed=0, races="off", shrink=False))
    on = best(lambda: interlace.explore(workload, executions=1, seed=0, races="error", shrink=False))
    print(f"controlled execution: detectors off {off * 1e3:.1f} ms, on {on * 1e3:.1f} ms, "
          f"ratio {on / off:.2f}x")
    native = best(lambda: interlace.detect(workload))
    print(f"detect-only (real threads): plain {plain * 1e3:.1f} ms, detect {native * 1e3:.1f} ms, "
          f"ratio {native / plain:.1f}x")


if __name__ == "__main__":
    main()
