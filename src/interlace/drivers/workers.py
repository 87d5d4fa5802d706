"""Exploration on every core (``--workers N``) or on a Dask cluster (``--dask``), with the answer of one.

The seed decides the exploration, not the number of workers. A partitionable strategy (see
:mod:`interlace.strategies.base`) makes execution ``i`` a function of (seed, i) and of the few
executions ``requires(i)`` names, so any worker can run any share of the indexes. Each worker (a
:class:`Lane`) takes the lowest index nobody has taken (a shared counter), first running, unreported,
what it requires, and reports every execution that failed or found a race; the executions of a
chain (``strategy.chain(i)``: the portfolio's DPOR executions) all go to one worker, which takes
them in turn with the others, so a chain is run once, not by every worker. Each worker's indexes
ascend. This process, the coordinator, keeps the lowest failing index ``k``: workers past ``k`` are
stopped at once (nothing they would find counts: one worker would never have run it), workers below
``k`` run on until they pass it (one of them may fail first). Then the coordinator runs execution
``k`` again by its choices and shrinks it as :func:`interlace.explore` does, so the failure, its
shrunk schedule and ``executions = k + 1`` are those of one worker. Races are merged by their key,
the lowest execution winning, as one worker's detector would have kept them.

Workers are fresh interpreters (``spawn``: forking a process whose threads hold locks is unsafe),
so the function under test travels by its qualified name (pickle) and must be importable there;
a script travels as its path (and hash). The Dask backend (:mod:`.dask_backend`) runs chunks of
indexes (a chain's in chunks of their own, kept on one Dask worker) as tasks with the same lanes.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..runtime.execution import HANG_GUARD
from ..strategies import Strategy
from .conclude import Run, end_result, failure_result
from .result import ExplorationInterrupted, Result
from .session import Session

if TYPE_CHECKING:
    from .tree_workers import TreeTally

POLL = 0.05  # seconds between the coordinator's looks at its workers: stops come within a second


class WorkerError(Exception):
    """A worker could not run the exploration (the function is not importable there, a worker died)."""


@dataclass
class Job:
    """Everything a worker needs to run its share: pickled once, unpickled (importing ``fn``) there.

    ``fn`` travels as itself (by qualified name), or as its ``__interlace_remote__`` attribute when it
    has one: an object whose ``host(run)`` sets the function up in the worker and calls ``run(fn)``
    (a pytest test needs its session and fixtures there: see :mod:`interlace.pytest_plugin.remote`).
    """

    fn: Callable[[], Any]
    strategy: Callable[[], Strategy]  # makes the strategy, fresh: before its first execution
    executions: int
    model: str
    max_steps: int | None
    include: Sequence[str]
    exclude: Sequence[str]
    stuck_timeout: float
    races: str
    ignore_races: Sequence[str]
    time_limit: float | None
    hang_guard: float | None = HANG_GUARD


@dataclass
class Outcome:
    """One reported execution: it failed, found races or inversions, or (``exhausted``) the strategy
    had nothing left at ``index``."""

    index: int
    failure: str | None = None  # its message: the coordinator runs the execution again for the rest
    choices: list[int] = field(default_factory=list)
    races: list = field(default_factory=list)
    inversions: list = field(default_factory=list)
    trace: list = field(default_factory=list)  # with a finding that fails: as explore() keeps it
    threads: list[str] = field(default_factory=list)
    exhausted: bool = False
    coverage: dict | None = None
    handed: frozenset[str] = frozenset()  # the locks it handed over (see conclude.Run.handed)


@dataclass
class LaneEnd:
    """A lane's (a worker's, or a chunk's) last word."""

    executions: int  # reported executions it ran (not those it ran only because others required them)
    uninstrumented: list[str]
    unreported: list[int] = field(default_factory=list)  # the executions it ran only because others required them


class Lane:
    """One worker's strategy instance and Session: runs its indexes, each after what it requires."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.strategy = job.strategy()
        self.ran: set[int] = set()
        self.unreported: list[int] = []
        self.executions = 0
        self.session: Session | None = None

    def __enter__(self) -> Lane:
        job = self.job
        self.session = Session(job.fn, job.include, job.exclude, stuck_timeout=job.stuck_timeout, races=job.races,
                               ignore_races=job.ignore_races, replayable=True, hang_guard=job.hang_guard).__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.session is not None
        self.session.__exit__(*exc)

    def run(self, index: int) -> Outcome | None:
        """Run execution ``index`` (after what it requires): its Outcome if there is anything to report."""
        for before in self.strategy.requires(index):
            if before not in self.ran:
                exhausted = self._execute(before)
                if exhausted is not None:
                    return exhausted
        return self._execute(index, report=True)

    def _execute(self, index: int, report: bool = False) -> Outcome | None:
        assert self.session is not None and index not in self.ran
        job, strat = self.job, self.strategy
        self.ran.add(index)
        if not strat.begin(index):
            coverage = strat.coverage() if hasattr(strat, "coverage") else None
            return Outcome(index, exhausted=True, coverage=coverage)
        ex = self.session.run(strat, job.model, job.max_steps)
        races, inversions = self.session.new_findings()
        if not report:
            self.unreported.append(index)
            return None
        self.executions += 1
        return outcome(index, ex, races, inversions, self.session.handed_locks())


def outcome(index: int, ex: Any, races: list, inversions: list,
            handed: frozenset[str] = frozenset()) -> Outcome | None:
    """What a worker reports of execution ``index`` (``ex``), if anything: a failure, new findings, or
    locks it handed over."""
    if ex.failure is None and not races and not inversions:
        return Outcome(index, handed=handed) if handed else None  # (no schedule to carry)
    out = Outcome(index, failure=None if ex.failure is None else ex.failure.message, choices=list(ex.choices),
                  races=races, inversions=inversions, handed=handed)
    if any(r.fails for r in races) or inversions:
        out.trace, out.threads = ex.trace, [t.name for t in ex.threads]
    return out


def job_bytes(job: Job) -> bytes:
    """``job`` pickled, or a ValueError saying why its function cannot travel to a worker."""
    try:
        return pickle.dumps(job)
    except Exception as exc:  # noqa: BLE001 - pickling fails in many ways; the message says which
        fn = job.fn
        try:
            pickle.dumps(job.strategy)
        except Exception:  # noqa: BLE001
            raise ValueError(f"exploring with workers sends the strategy to fresh worker processes, and this one "
                             f"cannot travel: {exc}. Give the strategy by name, or explore without workers.") from None
        raise ValueError(
            f"exploring with workers runs {fn!r} in fresh worker processes, which import it by its qualified "
            f"name ({getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}), and that is not "
            f"possible here: {exc}. Define the function at the top level of an importable module (not a lambda, "
            "a closure or a function defined inside another), or explore without workers.") from None


def cores() -> int:
    """The cores this process may use (``--workers auto``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def shared_out(strat: Strategy, workers: int | str | None, dask: str | None) -> bool:
    """Whether the executions go to workers: a partitionable strategy, or dfs (its tree split:
    :mod:`.tree_workers`), on more than one worker or a cluster. dpor extends one tree execution
    after execution: it runs in this process."""
    if workers is not None:
        workers = worker_count(workers)
    return (strat.partitionable or splits_tree(strat)) and (dask is not None or workers not in (None, 1))


def splits_tree(strat: Strategy) -> bool:
    """Whether ``strat`` runs on workers by splitting its tree (:mod:`.tree_workers`)."""
    from ..strategies import DFS

    return isinstance(strat, DFS)


def worker_count(workers: int | str) -> int:
    if workers == "auto":
        return cores()
    if isinstance(workers, str) and workers.isdigit():
        workers = int(workers)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive number or 'auto', not {workers!r}")
    return workers


# -- the coordinator -----------------------------------------------------------------------------------


class Backend:
    """Where lanes run: local processes (:class:`LocalWorkers`) or a Dask cluster."""

    def poll(self, timeout: float) -> list[Outcome | LaneEnd]:
        raise NotImplementedError

    def stop_from(self, index: int) -> None:
        """Nothing from ``index`` on is needed any more: stop or cancel what would run it."""
        raise NotImplementedError

    def busy(self) -> bool:
        raise NotImplementedError

    def progress(self) -> int:
        """Reported executions run so far (for the progress line)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Progress:
    """What the progress line needs of an execution (the coordinator has no Execution object)."""

    def __init__(self, failure: Any = None) -> None:
        self.failure = failure


def explore_in_workers(fn: Callable[[], Any], strat: Strategy, recipe: Callable[[], Strategy], *,
                       workers: int | str | None, dask: str | None, executions: int, seed: int, model: str,
                       include: Sequence[str], exclude: Sequence[str],
                       max_steps: int | None, time_limit: float | None, target: dict | None, stuck_timeout: float,
                       races: str, ignore_races: Sequence[str],
                       on_execution: Callable[[int, Any], None] | None, shrink: bool,
                       hang_guard: float | None = HANG_GUARD) -> Result:
    """:func:`interlace.explore` on workers or a Dask cluster (it checked the options, drew the seed)."""
    run = Run(seed=seed, strategy=strat.describe(), model=model, max_steps=max_steps, target=dict(target or {}),
              started=time.perf_counter(), hang_guard=hang_guard)
    n = worker_count(workers) if workers is not None else 0
    remote = getattr(fn, "__interlace_remote__", fn)
    job = Job(remote, recipe, executions, model, max_steps, tuple(include), tuple(exclude), stuck_timeout, races,
              tuple(ignore_races), time_limit, hang_guard)
    data = job_bytes(job)
    backend: Backend | None = None
    merged: _Merged | TreeTally = _Merged(executions)
    interrupted = False
    try:
        if dask is not None and splits_tree(strat):
            from .dask_tree import DaskTreeWorkers
            from .tree_workers import TreeTally

            backend = DaskTreeWorkers(dask, data, executions)
            merged = TreeTally(executions, backend.n, strat)  # type: ignore[arg-type]
        elif dask is not None:
            from .dask_backend import DaskWorkers

            backend = DaskWorkers(dask, data, executions, strat)
        elif splits_tree(strat):
            from .tree_workers import TreeTally, TreeWorkers

            merged = TreeTally(executions, min(n, executions), strat)  # type: ignore[arg-type]
            backend = TreeWorkers(data, min(n, executions))
        else:
            backend = LocalWorkers(data, min(n, executions))
        shown = 0
        while backend.busy():
            for item in backend.poll(POLL):
                if merged.add(item):
                    backend.stop_from(merged.stop)
            if merged.watch(backend):
                backend.stop_from(merged.stop)
            if on_execution is not None:
                count = backend.progress()
                if count > shown:
                    shown = count
                    on_execution(count - 1, _Progress())
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if backend is not None:
            backend.close()
    return _conclude(fn, run, merged.final(), job, races, shrink, interrupted)


class _Merged:
    """What the lanes reported, merged as one worker would have found it."""

    def __init__(self, executions: int) -> None:
        self.stop = executions  # executions from here on do not count: after a failure, or exhausted
        self.failed: Outcome | None = None
        self.exhausted: Outcome | None = None
        self.outcomes: list[Outcome] = []
        self.executions = 0
        self.uninstrumented: list[str] = []
        self.coverage: dict | None = None  # the strategy's, when it says it ran out (or the tree's tally)

    def watch(self, backend: Backend) -> bool:
        """A look at the workers between their reports; True when it lowered :attr:`stop`."""
        return False

    def final(self) -> _Merged:
        return self

    def add(self, item: Any) -> bool:
        """Note ``item``; True when it lowered :attr:`stop`."""
        if isinstance(item, LaneEnd):
            self.executions += item.executions
            self.uninstrumented += [u for u in item.uninstrumented if u not in self.uninstrumented]
            return False
        if item.index >= self.stop:
            return False
        if item.exhausted:
            self.exhausted, self.failed, self.coverage = item, None, item.coverage
        elif item.failure is not None:
            self.failed, self.exhausted = item, None
        else:
            self.outcomes.append(item)
            return False
        self.stop = item.index if item.exhausted else item.index + 1
        return True

    def findings(self) -> tuple[list, list, Outcome | None]:
        """The races and inversions as one worker's detectors would list them (each at the lowest
        execution that found it), and the Outcome of the first execution whose findings fail a run."""
        outcomes = sorted([o for o in self.outcomes if o.index < self.stop]
                          + ([self.failed] if self.failed is not None else []), key=lambda o: o.index)
        handed = frozenset().union(*(o.handed for o in outcomes))
        races: dict[Any, Any] = {}
        inversions: dict[Any, Any] = {}
        first: Outcome | None = None
        for out in outcomes:
            new = [r for r in out.races if r.key() not in races]
            new_inversions = [i for i in out.inversions if i.key() not in inversions and not i.through(handed)]
            for item in new:
                races[item.key()] = item
            for item in new_inversions:
                inversions[item.key()] = item
            for item in (*new, *new_inversions):
                item.execution = out.index
            if first is None and (any(r.fails for r in new) or new_inversions):
                first = out
        return list(races.values()), list(inversions.values()), first


def _conclude(fn: Callable[[], Any], run: Run, merged: _Merged, job: Job, races: str, shrink: bool,
              interrupted: bool) -> Result:
    run.races, run.inversions, first = merged.findings()
    if first is not None:
        run.first_finding = (first.index, first.choices, first.trace, first.threads)
    failed = merged.failed
    if failed is not None:
        executions = failed.index + 1
    elif merged.exhausted is not None:
        executions = merged.exhausted.index
    else:
        executions = merged.executions
    if failed is None and (interrupted or races != "error" or first is None):
        return end_result(run, None, races, executions=executions, exhausted=merged.exhausted is not None,
                          interrupted=interrupted, uninstrumented=merged.uninstrumented, coverage=merged.coverage)
    with Session(fn, job.include, job.exclude, stuck_timeout=job.stuck_timeout, races=job.races,
                 ignore_races=job.ignore_races, replayable=True, hang_guard=job.hang_guard) as session:
        for name in merged.uninstrumented:
            if name not in session.uninstrumented:
                session.uninstrumented.append(name)
        if failed is None:
            return end_result(run, session, races, executions=executions, exhausted=merged.exhausted is not None,
                              interrupted=False, uninstrumented=session.uninstrumented, coverage=merged.coverage)
        ex, _ = session.rerun(failed.choices, job.model, job.max_steps)
        if ex.failure is None:
            raise WorkerError(
                f"execution {failed.index} failed in a worker ({failed.failure}) but not when run again here: "
                "the program depends on "
                "something interlace does not control (wall-clock time, I/O, other processes), or on the "
                "process it runs in; explore it without workers")
        if interrupted:
            result = failure_result(run, session, ex, failed.index, executions, False)
            result.interrupted = True
            raise ExplorationInterrupted(result)
        return failure_result(run, session, ex, failed.index, executions, shrink)


# -- local worker processes ----------------------------------------------------------------------------


def stop_processes(procs: list, conns: list) -> None:
    """End worker processes (terminated, then killed if they linger) and close their pipes."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(1.0)
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    for conn in conns:
        conn.close()


class LocalWorkers(Backend):
    """``n`` fresh processes taking the indexes below the shared limit (see :class:`Claims`)."""

    def __init__(self, data: bytes, n: int, body: Callable[..., None] | None = None) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.limit = ctx.Value("q", 2**62, lock=False)
        self.taken = ctx.Value("q", 0)  # every index below it that is in no chain is taken
        self.running = ctx.Array("q", [-1] * n, lock=False)  # the index each worker runs (-1: none yet)
        self.done = ctx.Array("q", [0] * n, lock=False)
        self.procs = []
        self.conns = []
        self.ended = [False] * n
        self.stopped = [False] * n  # terminated by the coordinator: its end says nothing
        for w in range(n):
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker_main, args=(data, w, n, self.limit, self.taken, self.running, self.done,
                                                          writer, body or claimed_share),
                               name=f"interlace-worker-{w}", daemon=True)
            proc.start()
            writer.close()
            self.procs.append(proc)
            self.conns.append(reader)

    def poll(self, timeout: float) -> list[Outcome | LaneEnd]:
        from multiprocessing.connection import wait

        items: list[Outcome | LaneEnd] = []
        open_conns = [c for w, c in enumerate(self.conns) if not self.ended[w]]
        for conn in wait(open_conns, timeout):
            w = self.conns.index(conn)
            try:
                message = conn.recv()
            except Exception:  # noqa: BLE001 - the end of the pipe, or a message cut by terminate()
                self.ended[w] = True
                if not self.stopped[w]:
                    self.procs[w].join(1.0)
                    raise WorkerError(f"worker {w} ended without a word (exit code {self.procs[w].exitcode})") \
                        from None
                continue
            if isinstance(message, str):
                raise WorkerError(message)
            items.append(message)
            if isinstance(message, LaneEnd):
                self.ended[w] = True
        return items

    def stop_from(self, index: int) -> None:
        self.limit.value = index
        self._stop_past()

    def _stop_past(self) -> None:
        for w, proc in enumerate(self.procs):
            if not self.ended[w] and self.running[w] >= self.limit.value:
                # everything it would still run is past the limit: nothing of it counts
                self.stopped[w] = True
                proc.terminate()

    def busy(self) -> bool:
        self._stop_past()
        return not all(self.ended)

    def progress(self) -> int:
        return sum(self.done)

    def close(self) -> None:
        stop_processes(self.procs, self.conns)


def _worker_main(data: bytes, w: int, n: int, limit: Any, taken: Any, running: Any, done: Any, conn: Any,
                 body: Callable[..., None]) -> None:
    """A worker process: its lane, run by ``body`` until its executions run out or pass the limit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's: it stops the workers
    # daemonic (it must not outlive the coordinator), but the program it explores may make a process pool,
    # as it may without workers ("daemonic processes are not allowed to have children" otherwise)
    multiprocessing.current_process()._config.pop("daemon", None)
    try:
        job: Job = pickle.loads(data)
        started = time.perf_counter()

        def lane_with(fn: Callable[[], Any]) -> None:
            with Lane(dataclasses.replace(job, fn=fn)) as lane:
                body(lane, w, n, limit, taken, running, done, conn, started)
                assert lane.session is not None
                conn.send(LaneEnd(lane.executions, list(lane.session.uninstrumented), lane.unreported))

        host = getattr(job.fn, "host", None)
        if host is not None:
            host(lane_with)  # e.g. a pytest test: set up in this process, its body given to lane_with
        else:
            lane_with(job.fn)
    except BaseException:  # noqa: BLE001 - said to the coordinator, which stops the exploration
        text = traceback.format_exc()
        try:
            conn.send(f"a worker process failed:\n{text}")
        except OSError:
            print(text, file=sys.stderr)
    finally:
        conn.close()


def claimed_share(lane: Lane, w: int, n: int, limit: Any, taken: Any, running: Any, done: Any, conn: Any,
                  started: float) -> None:
    """A partitionable strategy's lane: the indexes it claims (:class:`Claims`), each reported."""
    claims = Claims(lane.strategy, lane.job.executions, w, n, taken)
    for out in _share(lane, claims, limit, running, done, w, started):
        conn.send(out)
        if out.exhausted or out.failure is not None:
            break


class Claims:
    """Which index worker ``w`` of ``n`` runs next: the lowest of the next index of its own chains
    (chain ``c`` is worker ``c % n``'s) and the lowest index in no chain that no worker has taken
    yet (``taken``, shared, under its lock). Both only grow, so each worker's indexes ascend (a
    worker running an index past the limit has nothing left to run below it), and a worker whose
    chain runs ahead takes the others' indexes meanwhile: the shares balance themselves."""

    def __init__(self, strategy: Strategy, executions: int, w: int, n: int, taken: Any) -> None:
        self.strategy, self.executions, self.w, self.n, self.taken = strategy, executions, w, n, taken
        self.scanned = 0  # the indexes below it were looked at for chains of this worker
        self.own: int | None = None  # the next index of this worker's chains, once found

    def __iter__(self) -> Iterator[int]:
        while True:
            index = self.next()
            if index is None:
                return
            yield index

    def next(self) -> int | None:
        chain = self.strategy.chain
        with self.taken.get_lock():
            free = self.taken.value
            while free < self.executions and chain(free) is not None:
                free += 1
            while self.own is None and self.scanned < free:
                c = chain(self.scanned)
                if c is not None and c % self.n == self.w:
                    self.own = self.scanned
                self.scanned += 1
            if self.own is not None:
                index, self.own = self.own, None
                self.taken.value = free
                return index
            if free >= self.executions:
                return None
            self.taken.value = free + 1
            return free


def _share(lane: Lane, indexes: Claims, limit: Any, running: Any, done: Any, w: int,
           started: float) -> Iterator[Outcome]:
    time_limit = lane.job.time_limit
    for index in indexes:
        running[w] = index  # before the look at the limit: the coordinator stops a worker past it
        if index >= limit.value:
            return
        if time_limit is not None and time.perf_counter() - started > time_limit:
            return
        out = lane.run(index)
        done[w] = lane.executions
        if out is not None:
            yield out
