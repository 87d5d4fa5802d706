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

Then where DPOR's time goes, in CPU ms per execution: PCT with the trace kept (as DPOR keeps it), PCT
asked at every decision as well (no quantum: the fast path takes none of them; the same schedules as
PCT), DPOR's end of execution (the analysis: transitions, races, wakeup trees), and the rest of DPOR's
cost (its own work at each decision). Last, what the portfolio's shares make of its members' costs,
and what a DPOR execution would have to cost for the portfolio to run at 90% of PCT's rate.

Usage: python bench/bench_default_speed.py [--executions N] [--rounds R]

On a loaded machine even CPU times move by 20-50% from run to run; instructions much less (a DPOR
execution's by 0.3%, a PCT one's smaller count by up to 25%). ``--single STRATEGY --program NAME``
runs one exploration only (``STRATEGY`` one of the above, or ``pct-traced``, ``pct-asked``), for
``valgrind --tool=callgrind``: the difference between the instructions of two runs with different
``--executions`` is what those executions cost, without the start-up::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python bench/bench_default_speed.py --single dpor --program "locked counter 3x10" --executions 60
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
from interlace.strategies import DPOR, PCT, Portfolio

state: dict = {}


class TracedPCT(PCT):
    """PCT keeping the trace DPOR keeps (the same schedules as PCT)."""

    needs_trace = True


class AskedPCT(TracedPCT):
    """PCT keeping the trace and asked at every decision, as DPOR is: without a quantum the fast path
    takes none of them (the same schedules as PCT: the quantum only skips what choose would answer)."""

    quantum = None


class TimedDPOR(DPOR):
    """DPOR adding up the CPU time of its end of execution (the analysis), which runs in the
    exploring thread, outside the execution."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.end_cpu = 0.0

    def end(self, execution: object) -> None:
        started = time.thread_time()
        super().end(execution)
        self.end_cpu += time.thread_time() - started


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


#: the rows of "where DPOR's time goes": each a fresh strategy per exploration
PARTS = {"pct-traced": TracedPCT, "pct-asked": AskedPCT}


def rate(fn, strategy, executions: int) -> tuple[float, float, int]:
    """(executions/s, CPU ms per execution, executions) of one exploration."""
    started, cpu = time.perf_counter(), _cpu()
    result = interlace.explore(fn, strategy=strategy, executions=executions, seed=1, races="off", shrink=False)
    elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
    assert result.ok, result.report()
    return result.executions / elapsed, cpu / result.executions * 1e3, result.executions


def shares() -> dict[str, int]:
    """How many of one cycle of the portfolio's executions each kind of member runs (DPOR's
    executions while it has classes left)."""
    portfolio = Portfolio(1)
    cycle = 3 * len(portfolio.members)
    out = {"dpor": cycle // 3}
    for index in range(cycle):
        if index % 3:
            name = portfolio.members[portfolio._member(index)[0]].name
            out[name] = out.get(name, 0) + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single", choices=STRATEGIES + tuple(PARTS), help="one exploration only (see above)")
    parser.add_argument("--program", choices=tuple(PROGRAMS), default=next(iter(PROGRAMS)))
    args = parser.parse_args()
    if args.single:
        fn = PROGRAMS[args.program]
        interlace.explore(fn, strategy="pct", executions=2, seed=1, races="off", shrink=False)  # instrument
        rate(fn, PARTS[args.single](1) if args.single in PARTS else args.single, args.executions)
        return
    print(f"interlace {interlace.__version__} on Python {platform.python_version()} "
          f"({platform.machine()}, {platform.system()}), races off, best of {args.rounds} x "
          f"{args.executions} executions")
    print()
    header = f"{'program':<30} " + " ".join(f"{s:>10}" for s in STRATEGIES) + f" {'portfolio/pct':>14}"
    parts = ("pct", "pct-traced", "pct-asked", "dpor", "dpor end", "dpor rest")
    cycle = shares()
    rates, cpus, where, need = [], [], [], []
    for program, fn in PROGRAMS.items():
        interlace.explore(fn, strategy="pct", executions=2, seed=1, races="off", shrink=False)  # instrument
        best = dict.fromkeys(STRATEGIES, 0.0)
        least = dict.fromkeys(STRATEGIES + parts, float("inf"))
        for _ in range(args.rounds):  # interleaved, so a burst of load hits all of them alike
            for name in STRATEGIES:
                strategy = TimedDPOR(1) if name == "dpor" else name  # the same as "dpor"
                per_second, cpu_ms, runs = rate(fn, strategy, args.executions)
                best[name] = max(best[name], per_second)
                least[name] = min(least[name], cpu_ms)
                if name == "dpor":
                    least["dpor end"] = min(least["dpor end"], strategy.end_cpu / runs * 1e3)
            for part, make in PARTS.items():
                least[part] = min(least[part], rate(fn, make(1), args.executions)[1])
        least["dpor rest"] = least["dpor"] - least["pct-asked"] - least["dpor end"]
        rates.append(f"{program:<30} " + " ".join(f"{best[s]:>10.0f}" for s in STRATEGIES)
                     + f" {best['portfolio'] / best['pct']:>14.2f}")
        cpus.append(f"{program:<30} " + " ".join(f"{least[s]:>10.2f}" for s in STRATEGIES)
                    + f" {least['pct'] / least['portfolio']:>14.2f}")
        where.append(f"{program:<30} " + " ".join(f"{least[s]:>10.2f}" for s in parts))
        total = sum(cycle.values())
        mix = sum(n * least[s] for s, n in cycle.items())
        # the DPOR cost x with total * pct / (mix - n_dpor * dpor + n_dpor * x) = 0.9
        others = mix - cycle["dpor"] * least["dpor"]
        dpor_for_90 = (total * least["pct"] / 0.9 - others) / cycle["dpor"]
        need.append(f"{program:<30} {total * least['pct'] / mix:>10.2f} {least['pct'] / least['portfolio']:>10.2f} "
                    f"{dpor_for_90:>12.2f} {dpor_for_90 / least['pct']:>10.2f}")
    print("executions/s (wall clock)")
    print(header)
    print("\n".join(rates))
    print()
    print("CPU ms per execution (the ratio is pct's over the portfolio's, so that it reads like the one above)")
    print(header)
    print("\n".join(cpus))
    print()
    print("where DPOR's time goes, CPU ms per execution (rest = dpor - pct-asked - dpor end)")
    print(f"{'program':<30} " + " ".join(f"{s:>10}" for s in parts))
    print("\n".join(where))
    print()
    print("the portfolio's shares, " + ", ".join(f"{n} {s}" for s, n in cycle.items())
          + f" in {sum(cycle.values())}: pct/portfolio predicted from the members' costs above, measured,")
    print("and the CPU ms (and multiple of pct's) a DPOR execution would have to cost for 0.90")
    print(f"{'program':<30} {'predicted':>10} {'measured':>10} {'dpor for .9':>12} {'x pct':>10}")
    print("\n".join(need))


if __name__ == "__main__":
    sys.exit(main())
