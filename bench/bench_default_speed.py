"""The default strategy's speed on correct programs (issue 14, item 4): executions/s of PCT, POS, DPOR
and the portfolio (the default: DPOR on every third execution, PCT(3), PCT(2), POS, PCT(3) in turn on
the others), and the ratio portfolio/PCT, measured in this one run (machine speed cancels out in the
ratio); then the CPU time of one execution (user + system of this process, all threads), which other
processes on the machine disturb less than the wall clock.

A correct program is where speed matters most: nothing fails, so an exploration runs its whole
budget. DPOR is asked at every scheduling point where two threads could run (each is a decision it
may reverse), keeps a trace, and analyses the execution after it (``strategies/dpor``); PCT is asked
at a few points only (the native fast path takes the others) and keeps no trace. POS is asked at
every point and switches threads at many of them: each switch is a hand-off between OS threads.
Each figure is the best of ``--rounds`` runs of ``--executions`` executions (the machine is shared:
the best run is the one least disturbed).

Usage: python bench/bench_default_speed.py [--executions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import platform
import queue
import resource
import sys
import threading
import time

import interlace

state: dict = {}


def locked_counter() -> None:
    """3 threads x 10 increments of a counter under a lock."""
    lock = threading.Lock()
    state["n"] = 0

    def work() -> None:
        for _ in range(10):
            with lock:
                state["n"] += 1

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["n"] == 30


class Account:
    def __init__(self, balance: int) -> None:
        self.balance = balance
        self.lock = threading.Lock()


def bank_transfers() -> None:
    """3 threads x 4 transfers between 3 accounts, each locking both accounts in a fixed order."""
    accounts = [Account(100) for _ in range(3)]

    def transfer(src: int, dst: int) -> None:
        first, second = sorted((src, dst))
        for _ in range(4):
            with accounts[first].lock, accounts[second].lock:
                accounts[src].balance -= 1
                accounts[dst].balance += 1

    threads = [threading.Thread(target=transfer, args=pair) for pair in ((0, 1), (1, 2), (2, 0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(a.balance for a in accounts) == 300


def producer_consumer() -> None:
    """2 producers x 4 items through a queue to 2 consumers, and an event when all are in."""
    items: queue.Queue = queue.Queue()
    done = threading.Event()
    got: list = []

    def produce(base: int) -> None:
        for k in range(4):
            items.put(base + k)

    def consume() -> None:
        for _ in range(4):
            got.append(items.get())
        done.set()

    threads = [threading.Thread(target=produce, args=(b,)) for b in (0, 10)]
    threads += [threading.Thread(target=consume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done.is_set() and sorted(got) == [0, 1, 2, 3, 10, 11, 12, 13]


PROGRAMS = {"locked counter 3x10": locked_counter, "bank transfers 3x4": bank_transfers,
            "queue 2 producers 2 consumers": producer_consumer}
STRATEGIES = ("pct", "pos", "dpor", "portfolio")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rate(fn, strategy: str, executions: int) -> tuple[float, float]:
    """(executions/s, CPU ms per execution) of one exploration."""
    started, cpu = time.perf_counter(), _cpu()
    result = interlace.explore(fn, strategy=strategy, executions=executions, seed=1, races="off", shrink=False)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    assert result.ok, result.report()
    return result.executions / elapsed, cpu / result.executions * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} "
          f"({platform.machine()}, {platform.system()}), races off, best of {args.rounds} x "
          f"{args.executions} executions")
    print()
    header = f"{'program':<30} " + " ".join(f"{s:>10}" for s in STRATEGIES) + f" {'portfolio/pct':>14}"
    rates, cpus = [], []
    for name, fn in PROGRAMS.items():
        interlace.explore(fn, strategy="pct", executions=2, seed=1, races="off", shrink=False)  # instrument
        best = dict.fromkeys(STRATEGIES, 0.0)
        least = dict.fromkeys(STRATEGIES, float("inf"))
        for _ in range(args.rounds):  # interleaved, so a burst of load hits all of them alike
            for strategy in STRATEGIES:
                per_second, cpu_ms = rate(fn, strategy, args.executions)
                best[strategy] = max(best[strategy], per_second)
                least[strategy] = min(least[strategy], cpu_ms)
        rates.append(f"{name:<30} " + " ".join(f"{best[s]:>10.0f}" for s in STRATEGIES)
                     + f" {best['portfolio'] / best['pct']:>14.2f}")
        cpus.append(f"{name:<30} " + " ".join(f"{least[s]:>10.2f}" for s in STRATEGIES)
                    + f" {least['pct'] / least['portfolio']:>14.2f}")
    print("executions/s (wall clock)")
    print(header)
    print("\n".join(rates))
    print()
    print("CPU ms per execution (the ratio is pct's over the portfolio's, so that it reads like the one above)")
    print(header)
    print("\n".join(cpus))


if __name__ == "__main__":
    sys.exit(main())
