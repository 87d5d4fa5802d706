"""DPOR against brute force on many generated programs (the longer run of
``tests/test_dpor_crosscheck.py``, which checks 100 seeds in CI).

    python bench/bench_dpor_crosscheck.py [--seeds 500] [--start 0] [--max-merges 1500]

For each seed, a program of 2-3 threads (globals, a lock, a list, a dict, a queue, an event, a condition) is
generated as Python (with sleeps) and as a model; every interleaving of the model is run, and DPOR must reach
exactly the model's outcomes and end exhausted. Prints each seed that does not, with its program, and
a summary: programs checked, outcomes, DPOR executions, time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import test_dpor_crosscheck as crosscheck  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--start", type=int, default=1000, help="first seed (CI checks 0-99)")
    parser.add_argument("--max-merges", type=int, default=crosscheck.MAX_MERGES)
    options = parser.parse_args()
    crosscheck.MAX_MERGES = options.max_merges
    started = time.perf_counter()
    bad, outcomes, executions = [], 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(options.start, options.start + options.seeds):
            program = crosscheck._Program(seed)
            expected = program.outcomes()
            seen, result = crosscheck.dpor_outcomes(program, Path(tmp))
            outcomes += len(expected)
            executions += result.executions
            if seen != expected or not result.ok or not result.exhausted:
                bad.append(seed)
                print(f"seed {seed}: DPOR reached {len(seen & expected)} of {len(expected)} outcomes "
                      f"(missing {sorted(expected - seen)[:5]}, extra {sorted(seen - expected)[:5]}), "
                      f"ok={result.ok}, exhausted={result.exhausted}")
                print(program.source())
    elapsed = time.perf_counter() - started
    print(f"{options.seeds} programs (seeds {options.start}-{options.start + options.seeds - 1}), {outcomes} "
          f"outcomes, {executions} DPOR executions, {elapsed:.1f}s: {len(bad)} mismatch(es) {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
