"""DPOR against brute force on generated programs: every outcome that some interleaving of a small
random program can produce, DPOR must produce too (else it would report every interleaving class
explored while a failing one exists).

Each program is generated twice from one seed: as Python source (2-3 threads; shared globals, a lock,
a list, a dict (stores, gets, pops), a queue, an event, a condition (as a lock, and a wait for a flag
that another thread sets and notifies), sleeps) run by interlace, and as a model for the
brute-force enumerator of ``test_strategies_systematic`` (``merges``/``simulate``), which runs every
merge of the threads' operations. ``bench/bench_dpor_crosscheck.py`` runs the same check on many more seeds.
"""

from __future__ import annotations

import importlib
import math
import random
import sys

import pytest
from test_strategies_systematic import merges, simulate

import interlace
from interlace.strategies import DPOR

pytestmark = pytest.mark.timeout(120)

VARS = ("X", "Y")


#: interleavings of one program's model at most (each a run of ``simulate``)
MAX_MERGES = 1500


def _count_merges(lengths: list[int]) -> int:
    count, total = 1, 0
    for n in lengths:
        total += n
        count *= math.comb(total, n)
    return count


class _Program:
    """One generated program: per thread, its source lines and its model operations."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.seed = seed
        while True:  # small enough for the brute force: at most MAX_MERGES interleavings
            self._generate(rng)
            # (a condition hand-off blocks the consumer in most merges: few of them are executions)
            if _count_merges([len(ops) for ops in self.ops]) <= MAX_MERGES * (8 if self.condwait else 1):
                break

    def _generate(self, rng: random.Random) -> None:
        n = rng.choice((2, 2, 3))
        # a producer (puts, sets) never blocks; a consumer gets at most as many items as are put
        self.queue = rng.random() < 0.3
        self.event = not self.queue and rng.random() < 0.3
        self.condwait = not self.queue and not self.event and rng.random() < 0.3
        if self.condwait:
            n = 2  # (its hand-off is 8 operations: fewer others, or too many merges)
        self.lines: list[list[str]] = []
        self.ops: list[list[tuple]] = []
        for t in range(n):
            lines: list[str] = []
            ops: list[tuple] = []
            regs: list[str] = []
            role = "producer" if t == 0 else "consumer" if t == 1 else "plain"
            if self.condwait:
                count = rng.randint(1, 2)
            else:
                count = rng.randint(2, 4) if n == 2 else rng.randint(1, 3)
            # a condition hand-off comes before, between or after the thread's other statements
            cut = rng.randint(0, count) if self.condwait and role != "plain" else -1
            for i in range(count + 1):
                if i == cut:
                    self._handoff(rng, role, lines, ops, regs)
                if i < count:
                    # one thread sleeps: timed waits end in the order of their deadlines, which the model
                    # (where a sleep is nothing) does not know
                    self._statement(rng, lines, ops, regs, sleeps=t == 0)
            if self.queue and role == "producer":
                value = rng.randint(1, 3)
                lines.append(f"Q.put({value})")
                ops.append(("put", "Q", value))
            if self.queue and role == "consumer":
                reg = f"r{len(regs)}"
                regs.append(reg)
                lines.append(f"{reg} = Q.get()")
                ops += [("get", "Q", reg), ("getend", "Q", reg)]
            if self.event and role == "producer":
                lines.append("EV.set()")
                ops.append(("set", "E"))
            if self.event and role == "consumer":
                lines.insert(0, "EV.wait()")
                ops[:0] = [("wait", "E"), ("waitend", "E")]
            lines.append(f"RES.t{t} = ({', '.join(regs)}{',' if len(regs) == 1 else ''})")
            ops.append(("regs", f"R{t}", tuple(regs)))
            self.lines.append(lines)
            self.ops.append(ops)

    @staticmethod
    def _handoff(rng: random.Random, role: str, lines: list[str], ops: list[tuple], regs: list[str]) -> None:
        """A flag set and notified under a condition's lock, and a wait for it: notify -> woken wait."""
        if role == "producer":
            lines += ["with COND:", "    FLAG = 1", "    COND.notify_all()"]
            ops += [("acq", "C"), ("set", "F"), ("rel", "C")]
            return
        # (the model checks the flag before taking the lock: the same outcomes, since the flag only goes
        # from 0 to 1 and the read after it is under the lock)
        var = rng.choice(VARS)
        reg = f"r{len(regs)}"
        regs.append(reg)
        lines += ["with COND:", "    while not FLAG:", "        COND.wait()", f"    {reg} = {var}"]
        ops += [("wait", "F"), ("waitend", "F"), ("acq", "C"), ("r", var, reg), ("rel", "C")]

    @staticmethod
    def _statement(rng: random.Random, lines: list[str], ops: list[tuple], regs: list[str], sleeps: bool) -> None:
        kind = rng.choice(("read", "write", "incr", "locked", "append", "len", "truth", "dstore", "dget",
                           "dincr", "sleep", "cond", "dpop"))
        var = rng.choice(VARS[:1] if rng.random() < 0.6 else VARS)  # mostly one variable: more conflicts
        reg = f"r{len(regs)}"
        if kind == "sleep" and not sleeps:
            kind = "read"
        if kind == "sleep":
            # orders nothing (a sleeper may wake before or after any step of the others): no operation
            # of the model, and every outcome of the program without it is still reachable
            lines.append(f"time.sleep(0.0{rng.randint(1, 5)})")
        elif kind == "read":
            regs.append(reg)
            lines.append(f"{reg} = {var}")
            ops.append(("r", var, reg))
        elif kind == "write":
            value = rng.randint(1, 3)
            lines.append(f"{var} = {value}")
            ops.append(("w", var, lambda r, v=value: v))
        elif kind == "cond":
            # a Condition's own lock (an RLock), and a notify that finds no waiter
            regs.append(reg)
            lines += ["with COND:", f"    {reg} = {var}", f"    {var} = {reg} + 1", "    COND.notify_all()"]
            ops += [("acq", "C"), ("r", var, reg), ("w", var, lambda r, reg=reg: r[reg] + 1), ("rel", "C")]
        elif kind in ("incr", "locked"):
            regs.append(reg)
            body = [f"{reg} = {var}", f"{var} = {reg} + 1"]
            model = [("r", var, reg), ("w", var, lambda r, reg=reg: r[reg] + 1)]
            if kind == "locked":
                lines.append("with LOCK:")
                lines += ["    " + line for line in body]
                ops += [("acq", "L"), *model, ("rel", "L")]
            else:
                lines += body
                ops += model
        elif kind == "append":
            lines.append("LST.append(1)")
            ops.append(("rmw", "L", lambda v: v + 1))
        elif kind == "len":
            regs.append(reg)
            lines.append(f"{reg} = len(LST)")
            ops.append(("r", "L", reg))
        elif kind == "truth":
            regs.append(reg)
            lines.append(f"{reg} = LST")  # the model keeps the length: the truth test is the same read
            lines.append(f"{reg} = len({reg}) if LST else 0")
            ops.append(("r", "L", reg))
        elif kind == "dstore":
            value = rng.randint(1, 3)
            lines.append(f'DCT["{var}"] = {value}')
            ops.append(("w", "D" + var, lambda r, v=value: v))
        elif kind == "dget":
            regs.append(reg)
            lines.append(f'{reg} = DCT.get("{var}", 0)')
            ops.append(("r", "D" + var, reg))
        elif kind == "dpop":  # a missing key reads as 0 everywhere
            regs.append(reg)
            lines.append(f'{reg} = DCT.pop("{var}", 0)')
            ops.append(("xchg", "D" + var, reg, 0))
        else:
            regs.append(reg)
            lines.append(f'DCT["{var}"] = ({reg} := DCT.get("{var}", 0)) + 1')
            ops += [("r", "D" + var, reg), ("w", "D" + var, lambda r, reg=reg: r[reg] + 1)]

    def source(self) -> str:
        out = ["import queue", "import threading", "import time", "", "FINALS = []", "", "class Res:", "    pass",
               "", ""]
        for t, lines in enumerate(self.lines):
            out.append(f"def t{t}():")
            out.append("    global X, Y, FLAG")
            out += ["    " + line for line in lines]
            out += ["", ""]
        out += [
            "def main():",
            "    global X, Y, LST, DCT, LOCK, Q, EV, RES, COND, FLAG",
            "    X = Y = FLAG = 0",
            "    LST, DCT, RES = [], {'X': 0, 'Y': 0}, Res()",
            "    LOCK, Q, EV, COND = threading.Lock(), queue.Queue(), threading.Event(), threading.Condition()",
            "    threads = [threading.Thread(target=f) for f in "
            f"({''.join(f't{t}, ' for t in range(len(self.lines)))})]",
            "    for t in threads:",
            "        t.start()",
            "    for t in threads:",
            "        t.join()",
            f"    FINALS.append((X, Y, len(LST), DCT.get('X', 0), DCT.get('Y', 0), "
            f"{''.join(f'RES.t{t}, ' for t in range(len(self.lines)))}))",
        ]
        return "\n".join(out) + "\n"

    def outcomes(self) -> set:
        init = {"X": 0, "Y": 0, "L": 0, "DX": 0, "DY": 0, "Q": (), "E": 0, "F": 0}
        finals = set()
        for order in merges(self.ops):
            state = simulate(self.ops, order, init)
            if state is not None:
                finals.add((state["X"], state["Y"], state["L"], state["DX"], state["DY"],
                            *(state[f"R{t}"] for t in range(len(self.lines)))))  # (threads with source)
        return finals


def dpor_outcomes(program: _Program, tmp_path, executions: int = 5000) -> tuple[set, interlace.Result]:
    name = f"generated_{program.seed}"
    (tmp_path / f"{name}.py").write_text(program.source())
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
    try:
        result = interlace.explore(module.main, strategy=DPOR(0), executions=executions, races="off", shrink=False)
    finally:
        sys.modules.pop(name, None)
    return set(module.FINALS), result


SEEDS = range(100)


@pytest.mark.parametrize("seed", SEEDS)
def test_dpor_reaches_every_outcome_of_a_generated_program(seed, tmp_path):
    check_program(_Program(seed), tmp_path)


def check_program(program: _Program, tmp_path) -> None:
    """DPOR runs ``program`` to exhaustion, without a failure, and reaches exactly its brute-force outcomes."""
    expected = program.outcomes()
    assert expected, program.source()
    seen, result = dpor_outcomes(program, tmp_path)
    assert result.ok, result.report()
    assert result.exhausted
    assert seen == expected, program.source()
