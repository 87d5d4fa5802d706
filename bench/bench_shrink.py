"""Shrinking benchmark: how much smaller failing schedules get, and what it costs.

For each buggy program (the article's counter script and the small programs of
``tests/programs_shrink.py``: lost update on an attribute, check-then-act, ABBA deadlock, condition
lost wakeup, queue check-then-get) and each seed, explore until the first failure (PCT, depth 3),
then compare the schedule as found with the shrunk one:

- preemptions in the execution,
- decisions in the saved schedule (choices up to the last one that is not the default),
- decisions in the whole execution (every scheduling point where more than one thread could run),
- replays spent and time taken by shrinking.

Every shrunk schedule is replayed once more to check it reproduces the same failure. Prints one row
per program and seed, then the medians. Usage: python bench/bench_shrink.py [--seeds N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import programs_shrink  # noqa: E402

import interlace  # noqa: E402
from interlace.drivers.script import ScriptRunner  # noqa: E402
from interlace.drivers.session import EPOCH, Session  # noqa: E402
from interlace.drivers.shrink import run_candidate  # noqa: E402


def measure(fn, choices):
    with Session(fn, (), ()) as session:
        c = run_candidate(session, "free-threaded", 100_000, EPOCH, choices=list(choices))
    return c


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per program (default 10)")
    options = parser.parse_args()
    programs = {"counter (script)": ScriptRunner(os.path.join(ROOT, "examples", "counter.py"), [])}
    programs.update({name: fn for name, (fn, _kind) in programs_shrink.PROGRAMS.items()})
    print(f"interlace shrinking benchmark -- Python {platform.python_version()}, "
          f"{options.seeds} seeds per program")
    print(f"{'program':<24}{'seed':>5}  {'preemptions':>12}  {'schedule':>10}  {'decisions':>10}  "
          f"{'replays':>7}  {'time':>7}")
    schedule_reduction, decision_reduction, times, failures = [], [], [], 0
    per_program: dict[str, list[float]] = {}
    for name, fn in programs.items():
        for seed in range(options.seeds):
            result = interlace.explore(fn, executions=500, seed=seed, races="off")
            if result.ok:
                print(f"{name:<24}{seed:>5}  no failure in 500 executions")
                continue
            s = result.shrink
            before = measure(fn, result.original_schedule.choices)
            after = measure(fn, result.schedule.choices)
            same = (after.execution.failure is not None
                    and after.execution.failure.signature() == result.failure.signature())
            failures += not same
            n0, n1 = len(result.original_schedule.choices), len(result.schedule.choices)
            schedule_reduction.append(1 - n1 / n0 if n0 else 0.0)
            decision_reduction.append(1 - after.size.decisions / before.size.decisions)
            per_program.setdefault(name, []).append(schedule_reduction[-1])
            times.append(s.elapsed)
            print(f"{name:<24}{seed:>5}  {s.before.preemptions:>5} -> {s.after.preemptions:<4}  "
                  f"{n0:>4} -> {n1:<4}  {before.size.decisions:>4} -> {after.size.decisions:<4}  "
                  f"{s.replays:>7}  {s.elapsed * 1000:>5.0f}ms" + ("" if same else "  DIFFERENT FAILURE"))
    print()
    for name, values in per_program.items():
        print(f"{name:<24} median reduction of the saved schedule: {statistics.median(values):.0%}")
    print()
    print("median reduction in decisions of the saved schedule: "
          f"{statistics.median(schedule_reduction):.0%}")
    print("median reduction in decisions of the whole execution: "
          f"{statistics.median(decision_reduction):.0%}")
    print(f"median shrink time: {statistics.median(times) * 1000:.0f}ms (max {max(times) * 1000:.0f}ms)")
    print(f"shrunk schedules that did not reproduce the same failure: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"(total {time.perf_counter() - started:.1f}s)")
    sys.exit(code)
