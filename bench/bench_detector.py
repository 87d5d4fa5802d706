"""Race detector overhead, measured in one run:

1. one controlled execution with the detectors on vs off (aim: at most 2x);
2. ``interlace.detect`` (real threads, detectors only) vs plain Python (aim: at most 15x, the range
   of ThreadSanitizer), and the part of it that is the instrumentation alone (the hooks with no
   detector behind them): the floor a pure-Python detector cannot go below.

The workload has many shared accesses: two threads each update attributes and dict items of shared
objects under a lock, 3,000 times.

``--paths``: the race detector's C path against its Python path, in CPU time (see paths()).

Usage: python bench/bench_detector.py [--paths]
"""

from __future__ import annotations

import platform
import sys
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


def paths() -> None:
    """``--paths``: the race detector's native path (``interlace._races``) against its pure-Python one
    (as with ``INTERLACE_PURE=1``), interleaved, best of 5 CPU times of this process (its threads'
    included), steadier than wall time on a loaded machine."""
    from interlace.detect import races

    native = races._native
    if native is None:
        print("interlace._races is not built (or INTERLACE_PURE=1): one path only")
        return
    explore = lambda: interlace.explore(workload, executions=1, seed=0, races="error", shrink=False)  # noqa: E731
    variants = {"controlled, detectors off": (native, lambda: interlace.explore(
                    workload, executions=1, seed=0, races="off", shrink=False)),
                "controlled, detectors on, C": (native, explore), "controlled, detectors on, Python": (None, explore),
                "detect-only, C": (native, lambda: interlace.detect(workload)),
                "detect-only, Python": (None, lambda: interlace.detect(workload))}
    times = dict.fromkeys(variants, float("inf"))
    for _ in range(5):
        for name, (path, fn) in variants.items():
            races._native = path
            started = time.process_time()
            fn()
            times[name] = min(times[name], time.process_time() - started)
    races._native = native
    for name, t in times.items():
        print(f"  {name:34} {t * 1e3:7.1f} ms")
    with open("/proc/loadavg") as f:
        print(f"(CPU time, best of 5, interleaved; load average {f.read().split()[0]})")


def main() -> None:
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()})")
    plain = best(workload)  # before anything is instrumented
    interlace.explore(workload, executions=1, seed=0, races="off", shrink=False)  # instrument, warm up
    if "--paths" in sys.argv:
        paths()
        return
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
