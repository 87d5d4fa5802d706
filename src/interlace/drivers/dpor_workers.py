"""DPOR on several workers (``--workers N``, ``--dask``): one worker's executions, in its order.

DPOR's next execution follows from every one before it (its wakeup trees grow with each), so its
executions cannot be shared out by index. But every branch still waiting in a wakeup tree is an
execution whose schedule is as good as fixed already: the decisions of the path to it, the branch's
sequence, and then DPOR's own rules (sleep sets, the default choice) applied to what the program does.
So this process, the coordinator, keeps the one DPOR instance that decides, and the workers run its
future executions ahead of it, *speculatively*:

* for each waiting branch, in DPOR's order (the deepest decision's first), a worker gets a copy of
  the coordinator's DPOR cut down to that branch (:func:`branch_state`: the path to its decision, the
  branches before it there taken as :meth:`DPOR._advance` would take them) and runs the execution it
  begins, recording everything its DPOR reads of the execution (:class:`Recording`: each decision's
  enabled threads and the threads' states, the hidden lock operations, the trace) and what it chose;
* the coordinator takes the executions in DPOR's order. For its next one it feeds that branch's
  recording to its own DPOR (:func:`replay`), which decides every decision again from its own
  state. If each choice is the worker's, the recording *is* the execution the coordinator's DPOR
  would have run (an execution is a function of its choices: the same fact replay and shrinking rest
  on), and DPOR ends it as its own: the same races reversed, the same wakeup trees. If a choice
  differs (an execution between them changed what DPOR decides there: a branch added below it, a
  thread learnt asleep), the coordinator's DPOR is put back as it was (:class:`_Saved`) and the branch
  runs again from a copy of its state as it is now. Never a different answer, only lost work.

So the executions, their order, the failure reported (the first in that order), the budget's cut
and the coverage line ("all K interleaving classes explored") are those of one worker by
construction, for every number of workers: ``tests/test_dpor_workers.py`` compares them on the DPOR
test programs. Each execution's races and inversions come from detectors of its own (a speculative
execution may run out of order, or be thrown away: a worker's detectors must not remember it), and
are merged by key at the lowest execution as :mod:`.workers` does.

What it costs: every execution's DPOR analysis runs twice (in the worker, to decide; here, to keep
the trees), and the coordinator does it for all of them, in one process: that bounds the speed-up
(``bench/bench_workers.py``'s dpor row). The workers can only run ahead as far as the trees reach:
a tree with one branch waiting keeps one worker busy.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..detect import LockOrderDetector, RaceDetector
from ..runtime.execution import HANG_GUARD
from ..strategies.dpor import DPOR
from ..strategies.dpor.strategy import _Node, take
from ..strategies.dpor.transitions import EventLog
from ..strategies.dpor.wakeup import Branch
from .conclude import Run
from .result import Result
from .workers import POLL, Job, Lane, LaneEnd, Outcome, WorkerError, _conclude, _Merged, _Progress, _worker_main, \
    job_bytes, outcome, worker_count

__all__ = ["Recording", "branch_state", "explore_dpor_in_workers", "replay", "run_branch"]

AHEAD = 4  # executions run or running ahead of the coordinator, per worker: what keeps a worker busy
_ROOT = 0  # the key of the first execution (no branch)


@dataclass
class Recording:
    """What one execution showed its DPOR, and what that DPOR chose: enough to feed the execution to
    another DPOR instance (:func:`replay`) without running it.

    ``calls``: in order, ``("c", events, enabled, current, threads)`` for each decision and
    ``("h", events, kind, tid, lock)`` for each hidden lock operation (``events``: the trace's length
    then; ``threads``, ``lock``: as :func:`_thread_view`, :func:`_lock_view` keep them)."""

    key: int
    model: str
    calls: list = field(default_factory=list)
    choices: list[int] = field(default_factory=list)
    end: tuple = ()  # (events, threads) when the execution ended
    trace: list = field(default_factory=list)
    outcome: Outcome | None = None  # a failure, races or inversions (its index set by the coordinator)
    uninstrumented: list[str] = field(default_factory=list)


# -- in a worker -----------------------------------------------------------------------------------


def _lock_view(lock: Any) -> tuple:
    return (id(lock), getattr(lock, "label", "?"), getattr(lock, "internal", False), getattr(lock, "name", None))


def _thread_view(ts: Any) -> tuple:
    lock = getattr(ts, "pending_lock", None)
    return (ts.tid, ts.name, ts.deadline is not None, ts.run_length, ts.pending, ts.pending_what,
            None if lock is None else _lock_view(lock), [_lock_view(h) for h in ts.held], ts.task is not None,
            ts.status)


def _threads(execution: Any) -> list[tuple]:
    return [_thread_view(ts) for ts in execution.threads]


def _record(dpor: DPOR, rec: Recording) -> None:
    """Make ``dpor`` note in ``rec`` what it reads of the execution and what it chooses."""
    choose, hidden, end = dpor.choose, dpor.hidden_sync, dpor.end

    def recorded_choose(enabled: list[int], current: int | None, execution: Any) -> int:
        rec.calls.append(("c", len(execution.trace), list(enabled), current, _threads(execution)))
        tid = choose(enabled, current, execution)
        rec.choices.append(tid)
        return tid

    def recorded_hidden(execution: Any, kind: str, ts: Any, lock: Any) -> None:
        rec.calls.append(("h", len(execution.trace), kind, ts.tid, _lock_view(lock)))
        hidden(execution, kind, ts, lock)

    def recorded_end(execution: Any) -> None:
        rec.end = (len(execution.trace), _threads(execution))
        rec.trace = list(execution.trace)
        end(execution)

    dpor.choose, dpor.hidden_sync, dpor.end = recorded_choose, recorded_hidden, recorded_end  # type: ignore[method-assign]


def run_branch(lane: Lane, payload: bytes) -> Recording:
    """Run, in ``lane``'s session, the execution a :func:`branch_state` payload begins; its recording."""
    key, state, flat = pickle.loads(payload)
    dpor: DPOR = state
    if flat is not None:
        dpor.nodes[-1].wut = [_unflat(flat)]
    job, session = lane.job, lane.session
    assert session is not None
    rec = Recording(key, job.model)
    _record(dpor, rec)
    if session.race_detector is not None:
        # detectors of its own: what a worker ran before (out of DPOR's order, or thrown away) hides nothing
        session.race_detector = RaceDetector(tuple(job.ignore_races), stacks=False)
        session.lock_order = LockOrderDetector()
        session.observers = (session.race_detector, session.lock_order)
    if dpor.begin(0):
        ex = session.run(dpor, job.model, job.max_steps)
        rec.outcome = outcome(0, ex, *session.new_findings())
    lane.executions += 1
    rec.uninstrumented = list(session.uninstrumented)
    return rec


def _serve(lane: Lane, w: int, n: int, limit: Any, taken: Any, running: Any, done: Any, conn: Any,
           started: float) -> None:
    """A local worker's body (see :func:`.workers._worker_main`): run the branches sent, until None."""
    while True:
        payload = conn.recv()
        if payload is None:
            return
        conn.send(run_branch(lane, payload))


# -- in the coordinator ----------------------------------------------------------------------------


class _Lock:
    __slots__ = ("label", "internal", "name")


class _Thread:
    __slots__ = ("tid", "name", "deadline", "run_length", "pending", "pending_what", "pending_lock", "held", "task",
                 "status")


class _Execution:
    """An execution as a recording shows it to DPOR: what DPOR reads, nothing else (a missing
    attribute fails loudly instead of answering wrong)."""

    __slots__ = ("trace", "threads", "model", "locks")

    def __init__(self, model: str) -> None:
        self.trace: list = []
        self.threads: list[_Thread] = []
        self.model = model
        self.locks: dict[int, _Lock] = {}  # the worker's id of a lock -> one object here, for the whole execution

    def stop_tracing(self) -> None:
        """The recording's trace stopped where the worker's did."""

    def lock(self, view: tuple | None) -> _Lock | None:
        if view is None:
            return None
        lock = self.locks.get(view[0])
        if lock is None:
            lock = self.locks[view[0]] = _Lock()
            _, lock.label, lock.internal, lock.name = view
        return lock

    def show(self, events: list, upto: int, threads: list[tuple] | None = None) -> None:
        if len(self.trace) < upto:
            self.trace.extend(events[len(self.trace):upto])
        if threads is not None:
            out = []
            for view in threads:
                ts = _Thread()
                (ts.tid, ts.name, deadline, ts.run_length, ts.pending, ts.pending_what, lock, held, task,
                 ts.status) = view
                ts.deadline = 1.0 if deadline else None
                ts.pending_lock = self.lock(lock)
                ts.held = [self.lock(h) for h in held]
                ts.task = True if task else None
                out.append(ts)
            self.threads = out


class _Saved:
    """What :meth:`DPOR.begin` and :meth:`DPOR.choose` change of a DPOR instance, to put it back when a
    recording turns out not to be its execution (:meth:`DPOR.end`, which changes more, runs only once
    every choice matched)."""

    def __init__(self, dpor: DPOR) -> None:
        self.attrs = dict(vars(dpor))
        self.nodes = list(dpor.nodes)
        node = next((n for n in reversed(dpor.nodes) if n.wut), None)
        self.node = node
        if node is not None:
            self.wut, self.done, self.sleep, self.chosen = list(node.wut), set(node.done), set(node.sleep), node.chosen

    def restore(self, dpor: DPOR) -> None:
        vars(dpor).clear()
        vars(dpor).update(self.attrs)
        dpor.nodes = self.nodes
        node = self.node
        if node is not None:
            node.wut, node.done, node.sleep, node.chosen = self.wut, self.done, self.sleep, self.chosen


def replay(dpor: DPOR, index: int, rec: Recording) -> bool:
    """Run execution ``index`` of ``dpor`` on ``rec`` instead of the program: True if ``dpor`` chose
    what the recording's DPOR chose at every decision (then ``rec`` is its execution, ended as such);
    False, ``dpor`` as before, if not."""
    saved = _Saved(dpor)
    if not dpor.begin(index):
        saved.restore(dpor)
        return False
    ex = _Execution(rec.model)
    events = rec.trace
    choices = iter(rec.choices)
    for call in rec.calls:
        ex.show(events, call[1], call[4] if call[0] == "c" else None)
        if call[0] == "h":
            ts = _Thread()
            ts.tid = call[3]
            dpor.hidden_sync(ex, call[2], ts, ex.lock(call[4]))
        elif dpor.choose(call[2], call[3], ex) != next(choices):
            saved.restore(dpor)
            return False
    ex.show(events, rec.end[0], rec.end[1])
    dpor.end(ex)
    return True


def waiting(dpor: DPOR) -> list[tuple[int, int, Branch]]:
    """The branches of ``dpor``'s wakeup trees still to run, as (decision, position, branch), in the
    order it runs them (the deepest decision's first), without those :func:`take` would skip."""
    out = []
    for d in range(len(dpor.nodes) - 1, -1, -1):
        node = dpor.nodes[d]
        for j, branch in enumerate(node.wut):
            if not (branch.ops and (branch.tid in node.done or branch.tid in node.sleep)):
                out.append((d, j, branch))
    return out


def branch_state(dpor: DPOR, key: int, d: int = -1, j: int = 0) -> bytes:
    """A worker's payload: ``dpor`` (as it is between executions) cut down to branch ``j`` of decision
    ``d``'s wakeup tree, the branches before it taken as :meth:`DPOR._advance` takes them (``d`` -1: as
    it is, for its first execution). Only what one execution reads travels: the wakeup trees of the
    other decisions stay here, and the branch's (maybe thousands of steps deep) travels flat."""
    copy = DPOR.__new__(DPOR)
    vars(copy).update(vars(dpor))
    copy.log, copy.follow, copy.trace_pos, copy.held_snaps, copy.decided_at, copy.tcount = (
        EventLog(), None, [], [], {}, {})
    flat = None
    if d >= 0:
        path = [_clone(node) for node in dpor.nodes[:d + 1]]
        last = path[-1]
        for branch in dpor.nodes[d].wut[:j]:
            take(last, branch)
        flat = _flat(dpor.nodes[d].wut[j])
        copy.nodes = path
    return pickle.dumps((key, copy, flat))


def _clone(node: _Node) -> _Node:
    """``node`` without its wakeup tree; its ``done`` and ``sleep`` its own (:func:`take` adds to them)."""
    copy = _Node.__new__(_Node)
    for name in _Node.__slots__:
        setattr(copy, name, getattr(node, name))
    copy.wut, copy.done, copy.sleep = [], set(node.done), set(node.sleep)
    return copy


def _flat(branch: Branch) -> list[tuple]:
    """``branch`` and the tree below it as ``(tid, idx, ops, parent)`` rows, parents first, children in
    order (pickle recurses, and a wakeup sequence can be thousands of steps deep)."""
    rows: list[tuple] = []
    todo = [(branch, -1)]
    while todo:
        b, parent = todo.pop()
        rows.append((b.tid, b.idx, b.ops, parent))
        here = len(rows) - 1
        todo.extend((child, here) for child in reversed(b.children))
    return rows


def _unflat(rows: list[tuple]) -> Branch:
    made: list[Branch] = []
    for tid, idx, ops, parent in rows:
        b = Branch(tid, idx, ops)
        if parent >= 0:
            made[parent].children.append(b)
        made.append(b)
    return made[0]


class DporPool:
    """Where branches run: ``n`` local worker processes (see :func:`.workers._worker_main`)."""

    def __init__(self, data: bytes, n: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.procs, self.conns = [], []
        self.queued: list[int] = [0] * n  # branches sent to each worker and not back yet
        for w in range(n):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(data, w, n, None, None, None, None, theirs, _serve),
                               name=f"interlace-dpor-worker-{w}", daemon=True)
            proc.start()
            theirs.close()
            self.procs.append(proc)
            self.conns.append(mine)

    def capacity(self) -> int:
        return AHEAD * self.n - sum(self.queued)

    def submit(self, payload: bytes) -> None:
        w = min(range(self.n), key=self.queued.__getitem__)
        self.queued[w] += 1
        self.conns[w].send(payload)

    def poll(self, timeout: float) -> list[Recording]:
        from multiprocessing.connection import wait

        out = []
        for conn in wait(self.conns, timeout):
            w = self.conns.index(conn)
            try:
                message = conn.recv()
            except EOFError:
                raise WorkerError(f"worker {w} ended without a word (exit code {self.procs[w].exitcode})") from None
            if isinstance(message, str):
                raise WorkerError(message)
            self.queued[w] -= 1
            out.append(message)
        return out

    def close(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        for conn in self.conns:
            conn.close()


def explore_dpor_in_workers(fn: Callable[[], Any], strat: DPOR, recipe: Callable[[], Any], *,
                            workers: int | str | None, dask: str | None, executions: int, seed: int, model: str,
                            include: Sequence[str], exclude: Sequence[str], max_steps: int | None,
                            time_limit: float | None, target: dict | None, stuck_timeout: float, races: str,
                            ignore_races: Sequence[str], on_execution: Callable[[int, Any], None] | None,
                            shrink: bool, hang_guard: float | None = HANG_GUARD) -> Result:
    """:func:`interlace.explore` with ``strategy="dpor"`` on workers or a Dask cluster: ``strat`` (fresh)
    is the coordinator's DPOR."""
    run = Run(seed=seed, strategy=strat.describe(), model=model, max_steps=max_steps, target=dict(target or {}),
              started=time.perf_counter(), hang_guard=hang_guard)
    remote = getattr(fn, "__interlace_remote__", fn)
    job = Job(remote, recipe, executions, model, max_steps, tuple(include), tuple(exclude), stuck_timeout, races,
              tuple(ignore_races), time_limit, hang_guard)
    data = job_bytes(job)
    merged = _Merged(executions)
    pool: Any = None
    interrupted = False
    try:
        if dask is not None:
            from .dask_dpor import DaskDporPool

            pool = DaskDporPool(dask, data)
        else:
            pool = DporPool(data, worker_count(workers or 1))
        merged.executions = _coordinate(strat, pool, merged, executions, time_limit, run.started, on_execution)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if pool is not None:
            pool.close()
    merged.coverage = strat.coverage()
    return _conclude(fn, run, merged, job, races, shrink, interrupted)


def _coordinate(dpor: DPOR, pool: Any, merged: _Merged, executions: int, time_limit: float | None,
                started: float, on_execution: Callable[[int, Any], None] | None) -> int:
    """Take DPOR's executions in its order from the workers' recordings (see the module's docstring);
    the number taken."""
    keys: dict[int, int] = {}  # id of a waiting branch -> its key
    kept: dict[int, Branch] = {}  # key -> branch (kept alive: its id names no other branch meanwhile)
    sent: set[int] = set()  # keys sent and not back
    back: dict[int, Recording] = {}
    exact: set[int] = set()  # keys sent when they were the next execution: from the coordinator's own state
    serial = _ROOT

    def key_of(branch: Branch) -> int:
        nonlocal serial
        key = keys.get(id(branch))
        if key is None:
            serial += 1
            key = keys[id(branch)] = serial
            kept[key] = branch
        return key

    index = 0
    while index < executions:
        if time_limit is not None and time.perf_counter() - started > time_limit:
            break
        ahead = waiting(dpor) if dpor.started else []
        if dpor.started and not ahead:
            dpor.begin(index)  # nothing left: DPOR says so (``done``, the coverage's "complete")
            merged.add(Outcome(index, exhausted=True))
            return index
        # the next execution first, then those after it, as far as the workers' capacity goes
        todo = [(_ROOT, -1, 0)] if not dpor.started else [(key_of(b), d, j) for d, j, b in ahead]
        for key, d, j in todo:
            if pool.capacity() <= 0 or len(back) >= AHEAD * max(pool.n, 1):
                break
            if key not in sent and key not in back:
                sent.add(key)
                if key == todo[0][0]:
                    exact.add(key)
                pool.submit(branch_state(dpor, key, d, j))
        key, d, j = todo[0]
        while key not in back:
            if key not in sent:  # its recording was not this execution: run it from the state as it is now
                sent.add(key)
                exact.add(key)
                pool.submit(branch_state(dpor, key, d, j))
            for rec in pool.poll(POLL):
                sent.discard(rec.key)
                back[rec.key] = rec
        rec = back.pop(key)
        if not replay(dpor, index, rec):
            if key in exact:
                raise WorkerError(
                    f"execution {index} did not run the same way in a worker as DPOR decides it here, from the "
                    "same state: the program depends on something interlace does not control (wall-clock time, "
                    "I/O, other processes), or on the process it runs in; explore it without workers")
            continue
        exact.discard(key)
        for name in rec.uninstrumented:
            if name not in merged.uninstrumented:
                merged.uninstrumented.append(name)
        if key != _ROOT:
            del keys[id(kept.pop(key))]
        out = rec.outcome
        if on_execution is not None:
            on_execution(index, _Progress())
        if out is not None:
            out = dataclasses.replace(out, index=index)
            if merged.add(out):
                return index + 1
        index += 1
    return index
