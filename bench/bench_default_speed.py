"""The default strategy's speed on correct programs (issue 14, item 4): executions/s of PCT, DPOR and
the portfolio (the default: DPOR on every third execution, PCT/POS on the others), and the ratio
portfolio/PCT, measured in this one run (machine speed cancels out in the ratio).

A correct program is where speed matters most: nothing fails, so an exploration runs its whole
budget. DPOR pays for a trace and for its race analysis after each execution (``strategies/dpor``);
PCT pays for neither. Each figure is the best of ``--rounds`` runs of ``--executions`` executions
(the machine is shared: the best run is the one least disturbed).

Usage: python bench/bench_default_speed.py [--executions N] [--rounds R]
"""

from __future__ import annotations

import argparse
import platform
import queue
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
STRATEGIES = ("pct", "dpor", "portfolio")


def rate(fn, strategy: str, executions: int) -> float:
    started = time.perf_counter()
    result = interlace.explore(fn, strategy=strategy, executions=executions, seed=1, races="off", shrink=False)
    elapsed = time.perf_counter() - started
    assert result.ok, result.report()
    return result.executions / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} "
          f"({platform.machine()}, {platform.system()}), races off, best of {args.rounds} x "
          f"{args.executions} executions")
    print()
    print(f"{'program':<30} " + " ".join(f"{s + ' ex/s':>15}" for s in STRATEGIES) + f" {'portfolio/pct':>14}")
    for name, fn in PROGRAMS.items():
        interlace.explore(fn, strategy="pct", executions=2, seed=1, races="off", shrink=False)  # instrument
        best = dict.fromkeys(STRATEGIES, 0.0)
        for _ in range(args.rounds):  # interleaved, so a burst of load hits all three alike
            for strategy in STRATEGIES:
                best[strategy] = max(best[strategy], rate(fn, strategy, args.executions))
        print(f"{name:<30} " + " ".join(f"{best[s]:>15.0f}" for s in STRATEGIES)
              + f" {best['portfolio'] / best['pct']:>14.2f}")


if __name__ == "__main__":
    sys.exit(main())
