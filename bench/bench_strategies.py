"""Every strategy on every bug of the corpus, with the same budget: executions to the first failure.

    python bench/bench_strategies.py [--budget 10000] [--seeds 5] [--strategies random,pct,...] [--bugs a,b]

Prints a table (one row per bug, one column per strategy: the median over the seeds of the number of
executions until the first failure; "(k/n)" when only k of the n seeds found it within the budget,
"-" when none did, "n/a" when a systematic strategy exhausted the space without a failure, "race"
when no execution failed but the race detector reported a race: a race-only ending, no failing
schedule), which strategy found each bug first (the smallest median among those that found it on
every seed), which member of the portfolio ran the default's first failing execution ("by": the
member of most seeds, with how many), the bugs found per strategy (by every seed), the worst case
over all bugs and seeds, and executions per second per strategy (all executions run / their time).
DFS and DPOR do not depend on the seed. The default strategy of ``explore`` is marked with a ``*``.
Race detection and shrinking are off while the strategies run: this measures the strategies only; a
cell with no failure is run again for ``RACE_BUDGET`` executions with the detector on, to tell a
race-only ending from nothing found.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

from corpus import BUGS, load  # noqa: E402

import interlace  # noqa: E402
from interlace.strategies import Portfolio  # noqa: E402

STRATEGIES = ["random", "pct", "pos", "dfs", "dpor", "portfolio"]
DEFAULT = inspect.signature(interlace.explore).parameters["strategy"].default
RACE_BUDGET = 100


def race_only(bug: str, strategy: str, seed: int) -> bool:
    """Does the race detector report a race (without a failing execution) within RACE_BUDGET?"""
    result = interlace.explore(load(bug), strategy=strategy, seed=seed, executions=RACE_BUDGET, races="warn",
                               shrink=False, stuck_timeout=5.0)
    return result.ok and bool(result.races)


def run(bug: str, strategy: str, budget: int, seed: int) -> tuple[str, int, float]:
    """(cell, executions run, seconds)."""
    program = load(bug)
    started = time.perf_counter()
    result = interlace.explore(program, strategy=strategy, seed=seed, executions=budget, races="off",
                               shrink=False, stuck_timeout=5.0)
    elapsed = time.perf_counter() - started
    if not result.ok:
        return str(result.executions), result.executions, elapsed
    return ("n/a" if result.exhausted else "-"), result.executions, elapsed


def by(members: list[str]) -> str:
    """The member of the default that found the bug on most seeds, and on how many ("" if none)."""
    if not members:
        return ""
    top = max(dict.fromkeys(members), key=members.count)
    return f"   {top} ({members.count(top)}/{len(members)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=10_000, help="executions per bug and strategy")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--bugs", default=",".join(BUGS))
    options = parser.parse_args(argv)
    strategies = options.strategies.split(",")
    bugs = options.bugs.split(",")
    seeds = list(range(1, options.seeds + 1))
    print(f"interlace strategy benchmark: {len(bugs)} bugs, budget {options.budget} executions, "
          f"seeds {seeds[0]}..{seeds[-1]}")
    print(f"Python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}, "
          f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs")
    print()
    width = max(len(b) for b in bugs) + 2
    header = "bug".ljust(width) + "".join((s + ("*" if s == DEFAULT else "")).rjust(11) for s in strategies) \
        + "first".rjust(11) + ("   by" if DEFAULT in strategies else "")
    print(header)
    print("-" * len(header))
    found = dict.fromkeys(strategies, 0)
    worst = dict.fromkeys(strategies, 0)
    totals = {s: [0, 0.0] for s in strategies}
    started = time.perf_counter()
    for bug in bugs:
        cells = []
        medians = {}
        members: list[str] = []
        for strategy in strategies:
            hits, outcome = [], "-"
            for seed in seeds if strategy not in ("dfs", "dpor") else seeds[:1]:
                cell, n, seconds = run(bug, strategy, options.budget, seed)
                totals[strategy][0] += n
                totals[strategy][1] += seconds
                if cell in ("-", "n/a"):
                    outcome = cell
                else:
                    hits.append(n)
                    if strategy == DEFAULT:
                        members.append(Portfolio(seed).member_for(n - 1))
            tries = len(seeds) if strategy not in ("dfs", "dpor") else 1
            if hits:
                cell = str(int(statistics.median(hits)))
                if len(hits) < tries:
                    cell += f" ({len(hits)}/{tries})"
                else:
                    found[strategy] += 1
                    worst[strategy] = max(worst[strategy], max(hits))
                    medians[strategy] = statistics.median(hits)
            elif outcome == "-" and race_only(bug, strategy, seeds[0]):
                cell = "race"
            else:
                cell = outcome
            cells.append(cell)
        first = min(medians, key=lambda s: (medians[s], strategies.index(s))) if medians else "-"
        print(bug.ljust(width) + "".join(c.rjust(11) for c in cells) + first.rjust(11) + by(members), flush=True)
    print("-" * len(header))
    print("bugs found".ljust(width) + "".join(f"{found[s]}/{len(bugs)}".rjust(11) for s in strategies))
    print("worst case".ljust(width) + "".join(str(worst[s]).rjust(11) for s in strategies))
    print("execs/s".ljust(width) + "".join(
        f"{totals[s][0] / totals[s][1]:.0f}".rjust(11) if totals[s][1] else "".rjust(11) for s in strategies))
    print("executions".ljust(width) + "".join(str(totals[s][0]).rjust(11) for s in strategies))
    print(f"\ntotal time {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
