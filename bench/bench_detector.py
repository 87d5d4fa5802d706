"""Race detector overhead, measured in one run:

1. one controlled execution with the detectors on vs off (aim: at most 2x);
2. ``interlace.detect`` (real threads, detectors only) vs plain Python (aim: at most 15x, the range
   of ThreadSanitizer), and the part of it that is the instrumentation alone (the hooks with no
   detector behind them): the floor a pure-Python detector cannot go below.

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
    hooks = best(hooks_only)
    print(f"  of which the instrumentation alone (hooks, no detector): {hooks * 1e3:.1f} ms, "
          f"ratio {hooks / plain:.1f}x")


class _Nothing:
    """A detector that looks at nothing: what remains is the cost of the hooks themselves."""

    races: list = []
    inversions: list = []
    suppressed = 0

    def __init__(self, *args: object) -> None:
        pass

    def begin(self, ex: object) -> None:
        pass

    def end(self, ex: object) -> None:
        pass

    def access(self, *args: object) -> None:
        pass

    def sync(self, *args: object) -> None:
        pass


def hooks_only() -> None:
    from interlace.drivers import detect_only as native

    saved = native.RaceDetector, native.LockOrderDetector
    native.RaceDetector = native.LockOrderDetector = _Nothing  # type: ignore[assignment,misc]
    try:
        interlace.detect(workload)
    finally:
        native.RaceDetector, native.LockOrderDetector = saved


if __name__ == "__main__":
    main()
