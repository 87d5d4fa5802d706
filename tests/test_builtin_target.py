"""A thread whose target is not instrumented (a builtin such as ``list.append``, a library function).

Such a target has no scheduling point of its own: before ``Thread.run`` made one for it, the thread
ran its whole body as soon as ``start()`` let it run, and the order "start() returned, the target has
not run yet" was never explored. The target is now called as instrumented code calls a function (an
access of the container it changes, or a call into code interlace cannot see). Checked against the
brute-force enumeration of ``test_strategies_systematic`` on explicit programs and on the generated
programs of ``test_dpor_crosscheck`` with a builtin-target thread added.
"""

from __future__ import annotations

import functools
import operator
import random
import threading

import pytest
from test_dpor_crosscheck import _count_merges, _Program, check_program
from test_strategies_systematic import brute_force

import interlace
from interlace.strategies import DFS, DPOR

pytestmark = pytest.mark.timeout(120)

FINALS: list = []
LST: list = []
DCT: dict = {}


def order_violation():
    flag: list = []
    t = threading.Thread(target=flag.append, args=(1,))
    t.start()
    if len(flag) != 1:  # (an assert in a test module would carry pytest's explanation)
        raise AssertionError("the target has not run yet")
    t.join()


@pytest.mark.parametrize(("strategy", "executions"), [(DFS(), 2), (DPOR(0), 2)])
def test_systematic_strategies_find_the_target_not_yet_run(strategy, executions):
    result = interlace.explore(order_violation, strategy=strategy, executions=100, races="off", shrink=False)
    assert not result.ok
    assert result.failure.message == "AssertionError in the main function: the target has not run yet"
    assert result.executions == executions
    # the failing order: the main thread reads the list before the thread's first (and only) step
    assert [(e.tid, e.kind, e.what) for e in result.trace] == [
        (0, "call", "threading.Thread"), (0, "read", "list['append']"), (0, "start", "Thread-1 (append)"),
        (0, "read", "list"), (0, "call", "builtins.AssertionError")]


def main_reads_append():
    LST.clear()
    t = threading.Thread(target=LST.append, args=(1,))
    t.start()
    n = len(LST)
    t.join()
    FINALS.append(n)


def main_reads_setitem():
    DCT.clear()
    DCT["X"] = 0
    t = threading.Thread(target=operator.setitem, args=(DCT, "X", 2))
    t.start()
    n = DCT.get("X")
    DCT["X"] = 3
    t.join()
    FINALS.append((n, DCT["X"]))


def main_reads_partial():
    LST.clear()
    t = threading.Thread(target=functools.partial(LST.append, 1))
    t.start()
    n = len(LST)
    t.join()
    FINALS.append(n)


CASES = {
    # main: start, read; thread: one append. The read before or after the append
    "append": (main_reads_append, [[("start", 1), ("r", "L", "n"), ("w", "A", lambda r: r["n"])],
                                   [("rmw", "L", lambda v: v + 1)]], {"L": 0, "A": 0}, lambda s: s["A"], 2),
    # the thread's store before the main thread's read, between its read and its store, or after both
    "setitem": (main_reads_setitem, [[("start", 1), ("r", "X", "n"), ("w", "X", lambda r: 3),
                                      ("w", "A", lambda r: (r["n"], 3))],
                                     [("w", "X", lambda r: 2)]],
                {"X": 0, "A": 0}, lambda s: (s["A"][0], s["X"]), 3),
}

EXPECTED_FINALS = {"append": {0, 1}, "setitem": {(0, 3), (0, 2), (2, 3)}}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dpor_explores_every_trace_of_a_builtin_target(name):
    fn, threads, init, observe, traces = CASES[name]
    finals, counted, _ = brute_force(threads, init, observe)
    assert (finals, counted) == (EXPECTED_FINALS[name], traces)
    strategy = DPOR(0)
    FINALS.clear()
    result = interlace.explore(fn, strategy=strategy, executions=1000, races="off", shrink=False)
    assert result.ok and result.exhausted is True
    assert set(FINALS) == finals
    coverage = strategy.coverage()
    assert (coverage["classes"], coverage["redundant"], result.executions) == (traces, 0, traces)


def test_dpor_orders_an_opaque_target_against_everything():
    # a functools.partial is code interlace cannot see into: its call conflicts with every operation,
    # here the main thread's read of the global LST and its read of the list: 3 orders, all explored
    strategy = DPOR(0)
    FINALS.clear()
    result = interlace.explore(main_reads_partial, strategy=strategy, executions=1000, races="off", shrink=False)
    assert result.ok and result.exhausted is True
    assert sorted(FINALS) == [0, 1, 1]
    assert (strategy.coverage()["classes"], result.executions) == (3, 3)


def test_dfs_reaches_every_final_state_of_a_builtin_target():
    FINALS.clear()
    result = interlace.explore(main_reads_setitem, strategy=DFS(), executions=1000, races="off", shrink=False)
    assert result.ok and result.exhausted is True
    assert set(FINALS) == EXPECTED_FINALS["setitem"]


# -- generated programs with a builtin-target thread ---------------------------------------------------

#: a builtin target the first thread starts: (source of the call's target and arguments, its model)
BUILTINS = (
    ("LST.append, args=(1,)", ("rmw", "L", lambda v: v + 1)),
    ("LST.clear", ("rmw", "L", lambda v: 0)),
    ('DCT.__setitem__, args=("X", 2)', ("w", "DX", lambda r: 2)),
    ('DCT.pop, args=("X", 0)', ("w", "DX", lambda r: 0)),
)


class _WithBuiltin(_Program):
    """A generated program whose first thread starts a thread with a builtin target, first or last
    (drawn from a generator of its own: the programs of ``test_dpor_crosscheck`` stay the same)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        rng = random.Random(f"builtin/{seed}")
        call, op = rng.choice(BUILTINS)
        self.builtin = f"threading.Thread(target={call})"
        at = 0 if rng.random() < 0.5 else len(self.lines[0]) - 1  # before its first statement or its RES
        self.lines[0].insert(at, "BT.start()")
        self.ops[0].insert(0 if at == 0 else len(self.ops[0]) - 1, ("start", len(self.ops)))
        self.ops.append([op])

    def source(self) -> str:
        text = super().source()
        text = text.replace("    global X, Y, LST, DCT, LOCK, Q, EV, RES, COND, FLAG\n",
                            "    global X, Y, LST, DCT, LOCK, Q, EV, RES, COND, FLAG, BT\n")
        return text.replace("    for t in threads:\n        t.start()\n",
                            f"    BT = {self.builtin}\n    for t in threads:\n        t.start()\n", 1) \
            .replace("    for t in threads:\n        t.join()\n",
                     "    for t in threads:\n        t.join()\n    BT.join()\n", 1)


#: seeds whose program with the builtin thread has at most this many interleavings (brute force time)
SEEDS = [s for s in range(100) if _count_merges([len(ops) for ops in _WithBuiltin(s).ops]) <= 12_000][:20]


@pytest.mark.parametrize("seed", SEEDS)
def test_dpor_reaches_every_outcome_with_a_builtin_target(seed, tmp_path):
    check_program(_WithBuiltin(seed), tmp_path)
