"""Overhead of recording: ``interlace run`` with recording vs the same controlled run without it.

Both are measured in this process, alternating, on a workload with many scheduling decisions and many
inputs (4 threads x N iterations of an unlocked shared counter, ``time.time()``, ``time.monotonic()``,
``os.urandom()`` and ``random.random()``), plus a decisions-only workload for the size per decision.

    python bench/bench_recording.py [--iterations 2000] [--repeat 5]

Prints the best time of each variant, the ratio, and the recording's size per decision.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from interlace.drivers.run import _execute, record  # noqa: E402
from interlace.recording.program import Program  # noqa: E402
from interlace.strategies import RandomWalk  # noqa: E402

WORKLOAD = """
import os, random, sys, threading, time
N = int(sys.argv[1])
shared = 0
def work():
    global shared
    for _ in range(N):
        x = shared
        stamp = time.time() + time.monotonic()
        token = os.urandom(4)
        r = random.random()
        shared = x + 1
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(shared)
"""

DECISIONS_ONLY = """
import sys, threading
N = int(sys.argv[1])
shared = 0
def work():
    global shared
    for _ in range(N):
        shared = shared + 1
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(shared)
"""


class NoInputs:
    """The channel of a run that records nothing (the baseline)."""

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass


class Sink:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def baseline(path: str, n: int, seed: int) -> float:
    program = Program(path, [str(n)])
    started = time.perf_counter()
    _execute(program, RandomWalk(seed), NoInputs(), model="free-threaded", max_steps=10**8, epoch=1.7e9,
             random_seed=1, races="off", stdout=Sink(), stderr=Sink())
    return time.perf_counter() - started


def recorded(path: str, n: int, seed: int, out: str) -> tuple[float, object]:
    started = time.perf_counter()
    outcome = record(path, [str(n)], path=out, force=True, keep="all", seed=seed, races="off", quiet=True,
                     max_steps=10**8, stdout=Sink(), stderr=Sink())
    return time.perf_counter() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "workload.py")
        only = os.path.join(tmp, "decisions_only.py")
        with open(work, "w") as f:
            f.write(WORKLOAD)
        with open(only, "w") as f:
            f.write(DECISIONS_ONLY)
        out = os.path.join(tmp, "run.ilr")
        base_times, rec_times = [], []
        outcome = None
        for i in range(options.repeat):
            base_times.append(baseline(work, options.iterations, seed=i))
            t, outcome = recorded(work, options.iterations, i, out)
            rec_times.append(t)
        size = os.path.getsize(out)
        b, r = min(base_times), min(rec_times)
        print(f"workload: 4 threads x {options.iterations} iterations, {outcome.decisions} decisions and "
              f"{outcome.inputs} inputs per run (last run)")
        print(f"  without recording: {b * 1000:8.1f} ms (best of {options.repeat})")
        print(f"  with recording:    {r * 1000:8.1f} ms (best of {options.repeat})")
        print(f"  overhead ratio:    {r / b:8.2f}x")
        print(f"  recording size:    {size} bytes, {size / (outcome.decisions + outcome.inputs):.2f} bytes per "
              f"record, {size / outcome.decisions:.2f} bytes per decision (inputs included)")
        _, only_outcome = recorded(only, options.iterations, 0, out)
        size = os.path.getsize(out)
        print(f"decisions only: {only_outcome.decisions} decisions, {size} bytes, "
              f"{size / only_outcome.decisions:.2f} bytes per decision (header included)")


if __name__ == "__main__":
    main()
