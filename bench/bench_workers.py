"""Executions per second with ``--workers 1`` and ``--workers 2``, measured in one run.

The program is correct (nothing stops the exploration early): two threads update a dict under a
lock 30 times each, explored with the default strategy (the portfolio: its DPOR executions, a third
of all, form a chain that one worker runs while both share the others), with PCT (every execution
independent) and with DFS (its tree, far bigger than the budget, split into units that each worker
walks, the budget counted in one worker's order: see drivers/tree_workers.py). Both runs of a
strategy explore the same executions of the same seed and must give the same answer; the ratio of
their rates is the speed-up (aim: at least 1.6x on two cores). A chain bounds it: the worker that
runs the portfolio's DPOR executions spends at least their time, so the speed-up with 2 workers is
at most 1 / max(their share of one worker's time, 1/2), printed with each ratio. The load average
is printed with it: on a shared machine other processes take cores too, and then two processes get
a larger share of the machine than one, which flatters the ratio. The CPU time of each run (this
process and its workers) is printed too: ``--workers 1``'s CPU time over ``--workers 2``'s is the
parallel efficiency, which the load does not flatter; on an idle machine the speed-up is about
twice that efficiency.

Usage: python bench/bench_workers.py [EXECUTIONS [STRATEGY[:PROGRAM] ...]]

PROGRAM is ``workload`` (above, the default), ``unbalanced`` (threads of 5 and 40 rounds: dfs's
units then differ much in size, which a fixed share of them between the workers does not even out)
or ``computing`` (work of the threads' own between the critical sections). With ``dpor`` (run by the
workers ahead of this process, which takes every execution in DPOR's order and analyses it again:
drivers/dpor_workers.py) the ratio depends on what an execution costs next to DPOR's analysis of it,
which this process does for all of them: compare ``dpor`` and ``dpor:computing``.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time

import interlace

ROUNDS = 30


def workload() -> None:
    lock = threading.Lock()
    box = {"n": 0}

    def add() -> None:
        for _ in range(ROUNDS):
            with lock:
                box["n"] += 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == 2 * ROUNDS


def unbalanced() -> None:
    """Threads of unlike lengths: the units of dfs's tree (see drivers/tree_workers.py) differ much in
    size, and the last few of the budget's take most of its executions."""
    lock = threading.Lock()
    box = {"n": 0}

    def add(rounds: int) -> None:
        for _ in range(rounds):
            with lock:
                box["n"] += 1

    threads = [threading.Thread(target=add, args=(rounds,)) for rounds in UNLIKE]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == sum(UNLIKE)


UNLIKE = (5, 40)
WORK = 400  # loop turns of a thread's own work (locals only: nothing shared) per round of ``computing``


def computing() -> None:
    """``workload`` with work of the threads' own between their critical sections: executions cost more,
    a strategy's analysis of them (DPOR's races, which only see the shared accesses) the same."""
    lock = threading.Lock()
    box = {"n": 0}

    def add() -> None:
        for _ in range(ROUNDS):
            x = 0
            for i in range(WORK):
                x += i * i
            with lock:
                box["n"] += x % 2 + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == 2 * ROUNDS


PROGRAMS = {"workload": workload, "unbalanced": unbalanced, "computing": computing}


def cpu() -> float:
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def rate(strategy: str, workers: int, executions: int, times: list[float] | None = None,
         program: str = "workload") -> tuple[float, float, interlace.Result]:
    """Executions/s, CPU seconds and the result; with one worker, ``times`` gets when each execution ended."""
    def ended(index: int, execution: object) -> None:
        assert times is not None
        times.append(time.perf_counter())

    started, cpu_before = time.perf_counter(), cpu()
    result = interlace.explore(PROGRAMS[program], executions=executions, seed=1, strategy=strategy, workers=workers,
                               on_execution=ended if times is not None else None)
    return executions / (time.perf_counter() - started), cpu() - cpu_before, result


def chain_share(strategy: str, times: list[float]) -> float:
    """The share of one worker's time spent in the strategy's chains (from execution 1 on: 0 has the start)."""
    chain = interlace.strategies.make_strategy(strategy, 1).chain
    spent = [(index, times[index] - times[index - 1]) for index in range(1, len(times))]
    return sum(t for index, t in spent if chain(index) is not None) / sum(t for _, t in spent)


def main() -> None:
    executions = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    print(f"{executions} executions of a correct program, {os.cpu_count()} cores, "
          f"load average before: {os.getloadavg()[0]:.2f}")
    ratios = []
    for name in sys.argv[2:] or ("portfolio", "pct", "dfs", "dfs:unbalanced"):
        strategy, _, program = name.partition(":")
        times: list[float] = []
        one, cpu1, r1 = rate(strategy, 1, executions, times, program or "workload")
        two, cpu2, r2 = rate(strategy, 2, executions, program=program or "workload")
        assert r1.ok and r2.ok and r1.executions == r2.executions == executions
        assert {**r1.to_dict(), "elapsed": 0} == {**r2.to_dict(), "elapsed": 0} and not r1.exhausted
        print(f"{name}:")
        print(f"  --workers 1: {one:8.0f} executions/s, {cpu1:6.1f} CPU seconds")
        print(f"  --workers 2: {two:8.0f} executions/s, {cpu2:6.1f} CPU seconds (both workers and this process)")
        print(f"  ratio: {two / one:.2f}x; parallel efficiency {cpu1 / cpu2:.2f} (load average now: "
              f"{os.getloadavg()[0]:.2f})")
        share = chain_share(strategy, times)
        if not share:
            ratios.append(f"{name} {two / one:.2f}x")
            continue
        print(f"  its chain (one worker's): {share:.0%} of --workers 1's time, so at most "
              f"{1 / max(share, 0.5):.2f}x with 2 workers")
        ratios.append(f"{name} {two / one:.2f}x")
    print("ratios: " + ", ".join(ratios))


if __name__ == "__main__":
    main()
