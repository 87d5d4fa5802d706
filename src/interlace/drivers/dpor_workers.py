"""DPOR on several workers (``--workers N``, ``--dask``): one worker's executions, in its order.

DPOR's next execution follows from every one before it (its wakeup trees grow with each), so its
executions cannot be shared out by index. But every branch still waiting in a wakeup tree is an
execution whose schedule is as good as fixed already: the decisions of the path to it, the branch's
sequence, and then DPOR's own rules (sleep sets, the default choice) applied to what the program does.
So this process, the coordinator, keeps the one DPOR instance that decides, and the workers run its
future executions ahead of it, *speculatively*:

* a free worker gets a copy of the coordinator's DPOR cut down to the first waiting branch, in DPOR's
  order (the deepest decision's first), that no worker runs or ran (:func:`branch_state`: the path to
  its decision, the branches before it there taken as :meth:`DPOR._advance` would take them), and runs
  the execution it begins and then, in DPOR's order, those below it, a *subtree* of at most
  :data:`SUBTREE` (:func:`run_subtree`). For each it sends a :class:`Recording`: everything its DPOR
  read of the execution (each decision's enabled threads and the threads' states, the hidden lock
  operations, the trace), what it chose, and the transitions and races it found;
* the coordinator takes the executions in DPOR's order, each named by its *prefix* (the path's
  choices up to the decision whose branch it began with, that branch's included). For its next one
  it feeds the recording of that prefix to its own DPOR (:func:`replay`), which decides every
  decision again from its own state. If each choice is the worker's, the recording *is* the
  execution the coordinator's DPOR would have run (an execution is a function of its choices: the
  same fact replay and shrinking rest on), and DPOR ends it as its own, with the worker's
  transitions and races (a function of the execution and the path): the same reversals, the same
  wakeup trees. If a choice differs (an execution between them changed what DPOR decides there: a
  branch added below it, a thread learnt asleep), the coordinator's DPOR is put back as it was
  (:class:`_Saved`) and the branch runs again from a copy of its state as it is now. Never a
  different answer, only lost work.

So the executions, their order, the failure reported (the first in that order), the budget's cut
and the coverage line ("all K interleaving classes explored") are those of one worker by
construction, for every number of workers: ``tests/test_dpor_workers.py`` compares them on the DPOR
test programs. Each execution's races and inversions come from detectors of its own (a speculative
execution may run out of order, or be thrown away: a worker's detectors must not remember it), and
are merged by key at the lowest execution as :mod:`.workers` does.

What it costs: every execution's choices are decided twice (in the worker; here, to check them and
keep the trees), the coordinator does that for all of them, in one process, and a recording is tens
of kB to pickle: where DPOR's own work is most of an execution, that is as much as the execution
(``bench/bench_workers.py``'s dpor rows, docs/parallel.md). The workers can only run ahead as far
as the trees reach: a tree with one branch waiting keeps one worker busy.
"""

from __future__ import annotations

import dataclasses
import gc
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..detect import LockOrderDetector, RaceDetector
from ..runtime.execution import HANG_GUARD
from ..strategies.dpor import DPOR
from ..strategies.dpor.strategy import _Node, take
from ..strategies.dpor.transitions import EventLog, Transition
from ..strategies.dpor.wakeup import Branch
from .conclude import Run
from .result import Result
from .workers import (
    POLL,
    Job,
    Lane,
    Outcome,
    WorkerError,
    _conclude,
    _Merged,
    _Progress,
    _worker_main,
    job_bytes,
    outcome,
    stop_processes,
    worker_count,
)

__all__ = ["Recording", "branch_state", "explore_dpor_in_workers", "replay", "run_subtree"]

SUBTREE = 64  # executions a worker runs in a row below the branch it was given, at most
KEPT = 4 * SUBTREE  # recordings ahead of the coordinator, per worker, past which no worker gets more to run
_FINISHED = "finished"  # a worker's word that its subtree ended


@dataclass
class Recording:
    """What one execution showed its DPOR, and what that DPOR chose: enough to feed the execution to
    another DPOR instance (:func:`replay`) without running it.

    ``calls``: in order, ``("c", events, enabled, current, threads)`` for each decision and
    ``("h", events, kind, tid, lock)`` for each hidden lock operation (``events``: the trace's length
    then; ``threads``: the threads whose view changed since the last call, :func:`_threads`; ``lock``: as
    :func:`_lock_view` keeps it)."""

    prefix: tuple  # the path's choices up to the branch it began with, that branch's included: which execution
    model: str = ""
    calls: list = field(default_factory=list)
    choices: list[int] = field(default_factory=list)
    end: tuple = ()  # (events, threads) when the execution ended
    trace: list = field(default_factory=list)
    outcome: Outcome | None = None  # a failure, races or inversions (its index set by the coordinator)
    uninstrumented: list[str] = field(default_factory=list)
    schedule: list[int] = field(default_factory=list)  # every decision's choice, as a replay takes them
    analysis: tuple = ()  # its transitions and races (see ``DPOR.analysis``)
    exact: bool = False  # run from the coordinator's own state (set there): it must be its execution


# -- in a worker -----------------------------------------------------------------------------------


def _lock_view(lock: Any) -> tuple:
    label = getattr(lock, "label", "?")
    return (id(lock), label, getattr(lock, "internal", False), getattr(lock, "name", None),
            getattr(lock, "ident", label))


def _thread_view(ts: Any) -> tuple:
    lock = getattr(ts, "pending_lock", None)
    return (ts.tid, ts.name, ts.deadline is not None, ts.run_length, ts.pending, ts.pending_what,
            None if lock is None else _lock_view(lock), [_lock_view(h) for h in ts.held], ts.task is not None,
            ts.status)


def _threads(execution: Any, last: list[tuple]) -> list[tuple[int, tuple]]:
    """The threads' views that changed since ``last`` (updated), as (tid, view): what a decision adds."""
    changed = []
    for ts in execution.threads:
        view = _thread_view(ts)
        tid = ts.tid
        if tid >= len(last):
            last.append(view)
            changed.append((tid, view))
        elif last[tid] != view:
            last[tid] = view
            changed.append((tid, view))
    return changed


class _Recorder:
    """Makes a DPOR instance note, in :attr:`rec`, what it reads of each execution and what it chooses."""

    def __init__(self, dpor: DPOR) -> None:
        self.rec = Recording(())
        self.views: list[tuple] = []  # the threads as the last call saw them
        choose, hidden, end = dpor.choose, dpor.hidden_sync, dpor.end

        def recorded_choose(enabled: list[int], current: int | None, execution: Any) -> int:
            self.rec.calls.append(("c", len(execution.trace), list(enabled), current, _threads(execution, self.views)))
            tid = choose(enabled, current, execution)
            self.rec.choices.append(tid)
            return tid

        def recorded_hidden(execution: Any, kind: str, ts: Any, lock: Any) -> None:
            self.rec.calls.append(("h", len(execution.trace), kind, ts.tid, _lock_view(lock)))
            hidden(execution, kind, ts, lock)

        def recorded_end(execution: Any) -> None:
            self.rec.end = (len(execution.trace), _threads(execution, self.views))
            self.rec.trace = list(execution.trace)
            end(execution)

        analysis = dpor.analysis

        def recorded_analysis(execution: Any) -> tuple:
            trans, found = analysis(execution)
            # what the coordinator's DPOR reads of them, as plain data (pickling objects with slots is slow)
            self.rec.analysis = ([(t.tid, t.decision, t.idx, t.ops, t.clock, t.later) for t in trans], found)
            return trans, found

        dpor.choose, dpor.hidden_sync, dpor.end, dpor.analysis = (  # type: ignore[method-assign]
            recorded_choose, recorded_hidden, recorded_end, recorded_analysis)


def run_subtree(lane: Lane, payload: bytes, more: Callable[[], bool]) -> Iterator[Recording]:
    """Run, in ``lane``'s session, the execution a :func:`branch_state` payload begins, then on in
    DPOR's order through the subtree below it (at most ``limit`` executions), while ``more()``;
    yields each execution's recording. It stops at a failure: nothing after it in DPOR's order counts."""
    limit, state, flat = pickle.loads(payload)
    dpor: DPOR = state
    base = len(dpor.nodes) - 1  # the decision whose branch begins the subtree
    if flat is not None:
        dpor.nodes[-1].wut = [_unflat(flat)]
    job, session = lane.job, lane.session
    assert session is not None
    recorder = _Recorder(dpor)
    for count in range(limit):
        if count and (not more() or not any(d > base for d, _, _ in waiting(dpor)[:1])):
            return
        if not dpor.begin(count):
            return
        recorder.views = []
        rec = recorder.rec = Recording(tuple(node.chosen for node in dpor.nodes) if dpor.nodes else (), job.model)
        if session.race_detector is not None:
            # detectors of its own: what a worker ran before (out of DPOR's order, or thrown away) hides nothing
            session.race_detector = RaceDetector(tuple(job.ignore_races), stacks=False)
            session.lock_order = LockOrderDetector()
            session.observers = (session.race_detector, session.lock_order)
        ex = session.run(dpor, job.model, job.max_steps)
        rec.outcome = outcome(0, ex, *session.new_findings(), session.handed_locks())
        rec.schedule = list(ex.choices)
        rec.uninstrumented = list(session.uninstrumented)
        lane.executions += 1
        yield rec
        if ex.failure is not None:
            return


def _serve(lane: Lane, w: int, n: int, limit: Any, taken: Any, running: Any, done: Any, conn: Any,
           started: float) -> None:
    """A local worker's body (see :func:`.workers._worker_main`): the subtrees sent, each until it
    ends or another comes (the coordinator wants that one more), until None comes."""
    payload = conn.recv()
    while payload is not None:
        for rec in run_subtree(lane, payload, lambda: not conn.poll()):
            conn.send(rec)
        conn.send(_FINISHED)
        payload = conn.recv()


# -- in the coordinator ----------------------------------------------------------------------------


class _Lock:
    __slots__ = ("label", "internal", "name", "ident")


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
            _, lock.label, lock.internal, lock.name, lock.ident = view
        return lock

    def show(self, events: list, upto: int, threads: list[tuple[int, tuple]] | None = None) -> None:
        """The trace up to ``upto`` events, and the threads whose views changed (see :func:`_threads`)."""
        if len(self.trace) < upto:
            self.trace.extend(events[len(self.trace):upto])
        for tid, view in threads or ():
            if tid < len(self.threads):
                ts = self.threads[tid]
            else:
                ts = _Thread()
                self.threads.append(ts)
            (ts.tid, ts.name, deadline, ts.run_length, ts.pending, ts.pending_what, lock, held, task,
             ts.status) = view
            ts.deadline = 1.0 if deadline else None
            ts.pending_lock = self.lock(lock)
            ts.held = [self.lock(h) for h in held]
            ts.task = True if task else None


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
    # the same path, so the same transitions and races: the worker's (a function of the execution)
    trans = []
    recorded = rec.analysis or ((), [])  # (none: the execution had no decision, see DPOR._analyse)
    for pos, (tid, decision, idx, ops, clock, later) in enumerate(recorded[0]):
        t = Transition(tid, decision, idx, pos)
        t.ops, t.clock, t.later = ops, clock, later
        trans.append(t)
    found = recorded[1]
    dpor.analysis = lambda execution: (trans, found)  # type: ignore[method-assign]
    try:
        dpor.end(ex)
    finally:
        del dpor.analysis
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


def branch_state(dpor: DPOR, limit: int, d: int = -1, j: int = 0) -> bytes:
    """A worker's payload: ``dpor`` (as it is between executions) cut down to branch ``j`` of decision
    ``d``'s wakeup tree, the branches before it taken as :meth:`DPOR._advance` takes them (``d`` -1: as
    it is, for its first execution), to run at most ``limit`` executions from. Only what the subtree
    below the branch reads travels: the wakeup trees of the other decisions stay here, and the
    branch's (maybe thousands of steps deep) travels flat."""
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
    return pickle.dumps((limit, copy, flat))


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
    """Where subtrees run: ``n`` local worker processes (see :func:`.workers._worker_main`), each
    running one subtree at a time and sending the recordings as they come."""

    def __init__(self, data: bytes, n: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.subtree = SUBTREE
        self.procs, self.conns = [], []
        for w in range(n):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(data, w, n, None, None, None, None, theirs, _serve),
                               name=f"interlace-dpor-worker-{w}", daemon=True)
            proc.start()
            theirs.close()
            self.procs.append(proc)
            self.conns.append(mine)

    def submit(self, w: int, payload: bytes) -> None:
        """Worker ``w`` runs this subtree next (at once, leaving the one it runs, if any)."""
        self.conns[w].send(payload)

    def poll(self, timeout: float) -> list[tuple[int, Recording | str]]:
        """(worker, a recording or :data:`_FINISHED`) for what the workers sent meanwhile."""
        from multiprocessing.connection import wait

        out: list[tuple[int, Recording | str]] = []
        for conn in wait(self.conns, timeout):
            w = self.conns.index(conn)
            try:
                message = conn.recv()
            except EOFError:
                raise WorkerError(f"worker {w} ended without a word (exit code {self.procs[w].exitcode})") from None
            if isinstance(message, str) and message != _FINISHED:
                raise WorkerError(message)
            out.append((w, message))
        return out

    def close(self) -> None:
        stop_processes(self.procs, self.conns)


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
        # The recordings here are many objects each, and the collector's full passes over all of them
        # (set off by the allocations of unpickling) took more time than the replays; nothing here makes
        # cycles but short-lived ones, which a collection of the young objects from time to time frees.
        collecting = gc.isenabled()
        gc.disable()
        try:
            merged.executions = _coordinate(strat, pool, merged, executions, time_limit, run.started, on_execution)
        finally:
            if collecting:
                gc.enable()
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
    the number taken.

    An execution is named by its *prefix*: the choices of the path up to the decision whose branch it
    began with, that branch's included (every execution has its own). Each worker runs one subtree
    at a time, from a branch this process gave it (its *root*); a branch below a root a worker is
    running is left to it, and a free worker gets the first branch, in DPOR's order, that no worker
    runs or ran. A worker is taken off its subtree when it has to run the next execution afresh (its
    recording was not DPOR's execution: it ran from a copy that changed since) and no worker is free."""
    recs: dict[tuple, list[Recording]] = {}
    roots: dict[int, tuple] = {}  # worker -> the prefix of the root of the subtree it runs
    jobs = [0] * pool.n  # subtrees sent to each worker and not finished (more than one: it is leaving one)
    exact: dict[int, tuple] = {}  # worker -> the prefix it runs from this DPOR's own state (it was the next)
    stale: set[tuple] = set()  # prefixes whose recording was not the execution: the worker's subtree changed here

    def covered(prefix: tuple) -> bool:
        return prefix not in stale and any(prefix[:len(root)] == root for root in roots.values())

    def send(w: int, prefix: tuple, payload: bytes) -> None:
        pool.submit(w, payload)
        roots[w] = prefix
        jobs[w] += 1

    index = 0
    while index < executions:
        if time_limit is not None and time.perf_counter() - started > time_limit:
            break
        ahead = waiting(dpor) if dpor.started else []
        if dpor.started and not ahead:
            dpor.begin(index)  # nothing left: DPOR says so (``done``, the coverage's "complete")
            merged.add(Outcome(index, exhausted=True))
            return index
        path = [node.chosen for node in dpor.nodes]
        head = (*path[:ahead[0][0]], ahead[0][2].tid) if ahead else ()
        candidates = recs.get(head)
        if candidates:
            rec = candidates.pop(0)
            if not candidates:
                del recs[head]
            if not replay(dpor, index, rec):
                if rec.exact:
                    raise WorkerError(
                        f"execution {index} did not run the same way in a worker as DPOR decides it here, from "
                        "the same state: the program depends on something interlace does not control (wall-clock "
                        "time, I/O, other processes), or on the process it runs in; explore it without workers")
                stale.add(head)
                continue
            stale.discard(head)
            for name in rec.uninstrumented:
                if name not in merged.uninstrumented:
                    merged.uninstrumented.append(name)
            if on_execution is not None:
                on_execution(index, _Progress())
            index += 1
            if not index % 256:
                gc.collect(1)
            if rec.outcome is not None and merged.add(dataclasses.replace(rec.outcome, index=index - 1)):
                return index
            continue
        free = [w for w in range(pool.n) if not jobs[w]]
        if not covered(head) and head not in exact.values():
            # the worker whose subtree went stale here, else any, leaves its subtree
            w = free[0] if free else next((w for w, root in roots.items() if head[:len(root)] == root),
                                          next(iter(roots)))
            d, j, _ = ahead[0] if ahead else (-1, 0, None)
            send(w, head, branch_state(dpor, min(pool.subtree, executions - index) if ahead else 1, d, j))
            exact[w] = head
            free = [f for f in free if f != w]
        if len(recs) >= executions - index:
            free = []  # as many recordings ahead as the budget has executions left: enough
        if free and len(recs) >= KEPT * pool.n:
            # recordings no waiting branch leads to are of executions DPOR did not run (their worker's copy
            # had changed) or ran already: forgotten; the others are kept until their turn
            waiting_prefixes = [(*path[:d], branch.tid) for d, _, branch in ahead]
            recs = {p: r for p, r in recs.items() if any(p[:len(w)] == w for w in waiting_prefixes)}
            if len(recs) >= KEPT * pool.n:
                free = []  # far enough ahead: no more until the coordinator takes some
        for d, j, branch in ahead[1:200]:
            if not free:
                break
            prefix = (*path[:d], branch.tid)
            if prefix not in recs and not covered(prefix):
                send(free.pop(0), prefix, branch_state(dpor, min(pool.subtree, executions - index), d, j))
        for w, message in pool.poll(POLL):
            if message == _FINISHED:
                jobs[w] -= 1
                if not jobs[w]:
                    roots.pop(w, None)
                    exact.pop(w, None)
                continue
            if jobs[w] == 1 and exact.get(w) == message.prefix:
                message.exact = True  # the first of a subtree sent from this DPOR's own state
                del exact[w]
            recs.setdefault(message.prefix, []).append(message)
    return index
