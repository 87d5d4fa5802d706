"""asyncio under interlace: one controlled execution of a small asyncio program vs ``asyncio.run`` of it.

The program is a small service: 8 worker tasks take 400 requests from an ``asyncio.Queue``, look each
up in a cache under an ``asyncio.Lock`` (a miss awaits a backend call), and count them; the main task
gathers them. Every request is a few task steps, so the ratio is the cost of a step under control:
the strategy's choice among the ready tasks, the happens-before edges, the pure-Python task and the
instrumented accesses. The aim (issue 15) is at most 5x, with the detectors off and on (with the race
detector's native path, ``interlace._races``, and without it, as with ``INTERLACE_PURE=1``). Measured for
``pct`` (the strategy of most of the default's executions) and for the default ``portfolio``, whose
first execution is DPOR's (it records a trace, and analyses it when it had a decision: with asyncio's
order kept, this program's has none). The program has one benign race (a note: ``served["n"] += 1``
outside the lock), whose stacks the first execution of an exploration captures as its accesses happen
(a later execution that finds a new race is replayed once more for them). All are measured in this run,
interleaved, best of 7, as CPU time of this process (steadier than wall time on a loaded machine; the
scheduler's hand-offs here stay on one thread).

``--breakdown``: where the time of ``pct`` with the detectors on goes, by switching parts off (the
replay for stacks, which the measured first execution no longer makes, the atomicity checks, the
detector's work at accesses and at synchronisations):
differences of best-of-7. The lines "detector in Python" are the same with the detector's native
path (``interlace._races``) off, as with ``INTERLACE_PURE=1``. ``--breakdown portfolio``: the same for
the default's first execution (DPOR's), with one more line: nor DPOR's analysis of the trace.

``--repeat STRATEGY RACES N`` (``plain`` for no control): only N executions after a warm-up, for counting
instructions, which the machine's load does not change: per execution, the difference of
``valgrind --tool=callgrind`` totals ("Collected") for N = 4 and N = 1, divided by 3, with
``PYTHONHASHSEED=0``, after one run of the same command without valgrind: the first run after a change
of the source compiles the instrumented modules again (their cache), about 30 M instructions that only
that run makes, which would be subtracted from the other's.

Usage: python bench/bench_asyncio.py [--breakdown [pct|portfolio] | --repeat STRATEGY RACES N]
"""

from __future__ import annotations

import asyncio
import platform
import sys
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
    started = time.process_time()
    fn()
    return time.process_time() - started


def controlled(strategy: str, races: str):
    return lambda: interlace.explore(workload, executions=1, seed=0, strategy=strategy, races=races, shrink=False)


def best(variants: dict, prepare=lambda name: None) -> dict:
    """Best of ROUNDS for each variant, interleaved so that a burst of load hits all alike."""
    times = dict.fromkeys(variants, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in variants.items():
            prepare(name)
            times[name] = min(times[name], timed(fn))
    prepare(None)
    return times


def breakdown(strategy: str) -> None:
    from interlace.detect import races
    from interlace.detect.races import RaceDetector
    from interlace.drivers.session import Session
    from interlace.strategies.dpor.strategy import DPOR

    real = (RaceDetector.access, RaceDetector.sync, Session._fill_stacks, RaceDetector._atomicity, races._native,
            DPOR._analyse, RaceDetector.native_access, RaceDetector.native_sync)
    skip = {"  detector in Python": ("native",), "no replay for stacks": ("fill",),
            "  detector in Python ": ("fill", "native"),
            # (interlace._races runs the atomicity checks inside its access(): switched off on the Python path)
            "  nor atomicity checks": ("fill", "native", "atomicity"),
            "nor detector at accesses": ("fill", "access"),
            "nor detector at synchronisations": ("fill", "access", "sync")}
    if strategy == "portfolio":
        skip["nor DPOR's analysis"] = ("fill", "access", "sync", "analysis")

    def prepare(name):
        off = skip.get(name, ())
        RaceDetector.access = (lambda *a: None) if "access" in off else real[0]
        RaceDetector.sync = (lambda *a: None) if "sync" in off else real[1]
        # (the C hooks call the detector's native_access/native_sync, not these methods: none then)
        RaceDetector.native_access = None if "access" in off else real[6]
        RaceDetector.native_sync = None if "sync" in off else real[7]
        Session._fill_stacks = (lambda *a: None) if "fill" in off else real[2]
        RaceDetector._atomicity = (lambda *a: None) if "atomicity" in off else real[3]
        races._native = None if "native" in off else real[4]
        DPOR._analyse = (lambda *a: None) if "analysis" in off else real[5]

    variants = {"plain": workload, "detectors off": controlled(strategy, "off"),
                "detectors on": controlled(strategy, "warn")}
    variants.update({name: controlled(strategy, "warn") for name in skip})
    times = best(variants, prepare)
    for name, t in times.items():
        print(f"  {name:34} {t * 1e3:6.1f} ms  {t / times['plain']:5.1f}x")
    print(f"(CPU time, best of {ROUNDS}, {strategy}; load average {_load()})")


def repeat(strategy: str, races: str, n: int) -> None:
    """``--repeat``: a warm-up (instrumenting, one execution of the same kind), then n executions."""
    workload()
    interlace.explore(workload, executions=1, seed=0, races="off", shrink=False)
    run = workload if strategy == "plain" else controlled(strategy, races)
    run()
    for _ in range(n):
        run()


def main() -> None:
    if "--repeat" in sys.argv:
        strategy, races, n = sys.argv[sys.argv.index("--repeat") + 1:][:3]
        repeat(strategy, races, int(n))
        return
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()})")
    plain = timed(workload)  # before anything is instrumented
    interlace.explore(workload, executions=1, seed=0, races="off", shrink=False)  # instrument, warm up
    if "--breakdown" in sys.argv:
        after = sys.argv[sys.argv.index("--breakdown") + 1:]
        breakdown(after[0] if after else "pct")
        return
    from interlace.detect import races as detector

    native = detector._native
    variants = {"plain": workload}
    for strategy in ("pct", "portfolio"):
        for races in ("off", "warn", "python"):
            if races != "python" or native is not None:
                variants[(strategy, races)] = controlled(strategy, "warn" if races == "python" else races)

    def prepare(name):  # ("python": the race detector's pure-Python path, as with INTERLACE_PURE=1)
        detector._native = None if name is not None and name[-1] == "python" else native

    started = time.perf_counter()
    times = best(variants, lambda name: prepare(None if name == "plain" else name))
    wall = time.perf_counter() - started
    plain = min(plain, times.pop("plain"))
    print(f"plain asyncio.run {plain * 1e3:.1f} ms; one controlled execution (CPU time, ratio to plain):")
    for strategy in ("pct", "portfolio"):
        off, on = times[(strategy, "off")], times[(strategy, "warn")]
        line = (f"  {strategy:9} detectors off {off * 1e3:5.1f} ms ({off / plain:.1f}x), on {on * 1e3:5.1f} ms "
                f"({on / plain:.1f}x)")
        if (strategy, "python") in times:
            python = times[(strategy, "python")]
            line += f", on with the detector in Python {python * 1e3:5.1f} ms ({python / plain:.1f}x)"
        print(line)
    print(f"(CPU time, best of {ROUNDS}; {wall:.1f} s wall for all; load average {_load()})")


def _load() -> str:
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
