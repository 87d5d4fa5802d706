"""Engine benchmarks: executions per second, and the overhead of one controlled execution.

Prints ratios measured in this one run (so machine speed cancels out):

1. executions/s exploring the article's counter (2 threads x 3 increments), with and without a lock,
   under each strategy;
2. one controlled execution of a threaded workload that mostly computes on local variables, against
   the same workload run plainly (overhead ratio), in both semantic models.

Usage: python bench/bench_engine.py [--executions N]
"""

from __future__ import annotations

import argparse
import platform
import sys
import threading
import time

import interlace

counter = 0
lock = threading.Lock()


def counter_program(locked: bool, increments: int = 3) -> None:
    global counter
    counter = 0

    def increase() -> None:
        global counter
        for _ in range(increments):
            if locked:
                with lock:
                    counter = counter + 1
            else:
                counter = counter + 1

    threads = [threading.Thread(target=increase) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def local_workload() -> None:
    results = []

    def crunch(n: int) -> None:
        total = 0
        for i in range(n):
            x = i * i
            if x % 3 == 0:
                total += x // 3
            else:
                total -= 1
        results.append(total)

    threads = [threading.Thread(target=crunch, args=(20_000,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2


def executions_per_second(strategy: str, locked: bool, executions: int, races: str = "off") -> tuple[float, int]:
    started = time.perf_counter()
    result = interlace.explore(lambda: counter_program(locked), executions=executions, strategy=strategy,
                               seed=1, races=races, shrink=False)
    elapsed = time.perf_counter() - started
    return result.executions / elapsed, result.executions


def overhead(model: str, repeats: int = 5) -> tuple[float, float, float]:
    plain = min(_timed(local_workload) for _ in range(repeats))
    interlace.explore(local_workload, executions=1, seed=0, model=model)  # instrument, warm caches
    controlled = min(_timed(lambda: interlace.explore(local_workload, executions=1, seed=0, model=model))
                     for _ in range(repeats))
    return plain, controlled, controlled / plain


def os_costs(rounds: int = 5000) -> tuple[float, float]:
    """What bounds executions/s: one baton handoff between two OS threads, and one thread spawn."""
    import _thread

    a, b = _thread.allocate_lock(), _thread.allocate_lock()
    a.acquire()
    b.acquire()

    def other() -> None:
        for _ in range(rounds):
            a.acquire()
            b.release()

    _thread.start_new_thread(other, ())
    started = time.perf_counter()
    for _ in range(rounds):
        a.release()
        b.acquire()
    handoff = (time.perf_counter() - started) / rounds / 2
    started = time.perf_counter()
    for _ in range(500):
        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
    spawn = (time.perf_counter() - started) / 500
    return handoff, spawn


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=3000)
    args = parser.parse_args()
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} "
          f"({platform.machine()}, {platform.system()}), {args.executions} executions per row")
    print()
    print(f"{'program':<24} {'strategy':<8} {'executions/s':>12}")
    for locked in (False, True):
        for strategy in ("random", "pct"):
            # the racy counter fails quickly; keep exploring past failures with the locked one only
            rate, n = executions_per_second(strategy, locked, args.executions if locked else 1)
            if not locked:
                rate = _racy_rate(strategy, args.executions)
            name = "counter + lock" if locked else "counter (racy)"
            print(f"{name:<24} {strategy:<8} {rate:>12.0f}")
    rate, _n = executions_per_second("pct", True, args.executions, races="error")
    print(f"{'counter + lock, races on':<24} {'pct':<8} {rate:>12.0f}")
    handoff, spawn = os_costs()
    print(f"(limits: one handoff between OS threads {handoff * 1e6:.1f} us, "
          f"one thread start+join {spawn * 1e6:.1f} us, measured in this run)")
    print()
    print(f"{'mostly-local workload':<24} {'model':<14} {'plain ms':>9} {'controlled ms':>14} {'ratio':>6}")
    for model in ("free-threaded", "gil"):
        plain, controlled, ratio = overhead(model)
        print(f"{'':<24} {model:<14} {plain * 1e3:>9.2f} {controlled * 1e3:>14.2f} {ratio:>5.1f}x")


def _racy_rate(strategy: str, executions: int) -> float:
    """Executions/s on the racy counter, exploring past failures (as a long campaign would)."""
    from interlace.drivers.session import Session
    from interlace.strategies import make_strategy

    strat = make_strategy(strategy, 1)
    fn = lambda: counter_program(False)  # noqa: E731
    with Session(fn, (), ()) as session:
        started = time.perf_counter()
        for index in range(executions):
            strat.begin(index)
            session.run(strat, "free-threaded", 100_000)
        return executions / (time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
