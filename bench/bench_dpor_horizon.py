"""What DPOR's horizon costs on long executions, and where the bug corpus stands against it, in one run.

DPOR traces and decides the first ``horizon`` events of an execution, then runs the rest by quanta
(``strategies/dpor``). The default portfolio's first execution is DPOR's, so the horizon sets what the
first execution of a long program costs (``bench/bench_engine.py``'s gil row), and what every third
one costs after it. For each horizon this prints the CPU time of DPOR's first executions on long
programs, as a multiple of the same program run plainly and of the same number of PCT executions (all
measured in this run); then
the executions DPOR needs for a bug at the end of a long execution (``two_stage_rounds`` with 100 and 300
rounds); then the longest trace any DPOR execution of the corpus reaches before its first failure (a horizon above
it changes no schedule DPOR runs on the corpus: the executions to each bug stay the same).

Usage: python bench/bench_dpor_horizon.py [--horizons 1000,2000,5000,20000] [--rounds 3] [--no-corpus]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import corpus.two_stage_rounds  # noqa: E402
import speedups_article  # noqa: E402
from bench_engine import counter_program, local_workload  # noqa: E402
from corpus import BUGS, load  # noqa: E402

import interlace  # noqa: E402
from interlace.strategies import DPOR, PCT  # noqa: E402


def locked_counter() -> None:
    """2 threads x 20,000 locked increments: correct, about 80,000 events."""
    counter_program(True, 20_000)


def article() -> None:
    """The seed article's racy counter at 40 threads x 2,000 increments."""
    speedups_article.counter = 0
    with open(os.devnull, "w") as out:
        stdout, sys.stdout = sys.stdout, out
        try:
            speedups_article.main(40, 2_000)
        finally:
            sys.stdout = stdout


#: (name, program, model, executions)
PROGRAMS = [("local workload (gil)", local_workload, "gil", 1),
            ("local workload (free)", local_workload, "free-threaded", 1),
            ("locked 2 x 20,000", locked_counter, "free-threaded", 2),
            ("article 40 x 2,000", article, "free-threaded", 2)]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn) -> float:
    started = _cpu()
    fn()
    return _cpu() - started


def explore_cpu(fn, strategy, model: str, executions: int) -> float:
    return _timed(lambda: interlace.explore(fn, strategy=strategy, executions=executions, seed=1, model=model,
                                            races="off", shrink=False))


def deep_bug(rounds: int, horizon: int, budget: int) -> str:
    """Executions DPOR alone needs for ``two_stage_rounds`` at ``rounds`` rounds (the bug is in the last
    one, about 16 events per round), "-" if none within ``budget``, "n/a" if it ran every class of its
    prefixes first."""
    corpus.two_stage_rounds.ROUNDS = rounds
    try:
        result = interlace.explore(corpus.two_stage_rounds.program, strategy=DPOR(0, horizon=horizon),
                                   executions=budget, races="off", shrink=False, stuck_timeout=5.0)
    finally:
        corpus.two_stage_rounds.ROUNDS = 100
    return str(result.executions) if not result.ok else "n/a" if result.exhausted else "-"


def longest_corpus_trace(model: str, budget: int) -> tuple[int, str]:
    """The longest trace of any DPOR execution of the corpus in ``model``, up to its first failure or
    ``budget``: (events, bug)."""
    longest = (0, "")
    for bug in BUGS:
        lengths: list[int] = []
        interlace.explore(load(bug), strategy=DPOR(0, horizon=10**9), executions=budget, model=model,
                          races="off", shrink=False, stuck_timeout=5.0,
                          on_execution=lambda i, ex, lengths=lengths: lengths.append(len(ex.trace)))
        longest = max(longest, (max(lengths), bug))
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizons", default="1000,2000,5000,20000")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs per cell")
    parser.add_argument("--no-corpus", action="store_true", help="skip the corpus' longest trace")
    parser.add_argument("--corpus-budget", type=int, default=1000)
    parser.add_argument("--deep-budget", type=int, default=300)
    args = parser.parse_args()
    horizons = [int(h) for h in args.horizons.split(",")]
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} ({platform.machine()}), "
          f"CPU seconds, best of {args.rounds}; load {open('/proc/loadavg').read().split()[:3]}")
    print()
    print(f"{'program':<24} {'execs':>5} {'plain':>7} {'pct':>7} "
          + " ".join(f"{'h=' + str(h):>9}" for h in horizons) + "   (dpor: x plain / x pct)")
    for name, fn, model, executions in PROGRAMS:
        explore_cpu(fn, "pct", model, 1)  # instrument, warm caches
        plain = min(_timed(fn) for _ in range(args.rounds))
        cells = {"pct": float("inf"), **{h: float("inf") for h in horizons}}
        for _ in range(args.rounds):  # interleaved, so a burst of load hits all of them alike
            cells["pct"] = min(cells["pct"], explore_cpu(fn, PCT(1), model, executions))
            for h in horizons:
                cells[h] = min(cells[h], explore_cpu(fn, DPOR(1, horizon=h), model, executions))
        print(f"{name:<24} {executions:>5} {plain:>7.3f} {cells['pct']:>7.3f} "
              + " ".join(f"{cells[h]:>9.3f}" for h in horizons))
        print(f"{'':<46}" + " ".join(f"{cells[h] / plain:>4.0f}/{cells[h] / cells['pct']:<4.1f}" for h in horizons))
    print()
    print(f"DPOR alone on two_stage_rounds with more rounds: executions to the bug ({args.deep_budget} at most)")
    for rounds in (100, 300):
        print(f"{str(rounds) + ' rounds':<46}" + " ".join(f"{deep_bug(rounds, h, args.deep_budget):>9}"
                                                        for h in horizons))
    if not args.no_corpus:
        print()
        print(f"longest DPOR trace on the corpus (each bug, up to its first failure or {args.corpus_budget} "
              f"executions)")
        for model in ("free-threaded", "gil"):
            length, bug = longest_corpus_trace(model, args.corpus_budget)
            print(f"  {model:<14} {length:>6} events ({bug})")


if __name__ == "__main__":
    main()
