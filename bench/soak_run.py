"""Run the ``interlace run`` / ``replay`` tests many times with random seeds, to find seeds that fail.

    python bench/soak_run.py [--rounds 10] [pytest args...]

The tests pin ``interlace run``'s seed (tests/run_seeds.py) so CI is deterministic; the guarantee they
check (any run replays exactly) holds for every seed, and this script is where other seeds are tried.
A failing round prints pytest's summary: rerun its command with the seed it shows to reproduce it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = ["tests/test_run.py", "tests/test_edges.py"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    options, extra = parser.parse_known_args(argv)
    env = dict(os.environ, INTERLACE_TEST_RUN_SEED="random")
    failed = 0
    for n in range(1, options.rounds + 1):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *TESTS, *extra],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("FAILED") or " passed" in line]
        print(f"round {n}: " + ("ok" if done.returncode == 0 else "FAILED"), *lines, sep="\n  ", flush=True)
        failed += done.returncode != 0
    print(f"{failed} of {options.rounds} rounds failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
