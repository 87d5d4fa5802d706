"""Exploration on a Dask cluster (``interlace explore --dask tcp://HOST:PORT``): the partitioned
exploration of :mod:`.workers`, its indexes cut into chunks that run as Dask tasks.

Only this module imports Dask (the optional ``[dask]`` extra), and only when ``--dask`` is given.
A task runs one chunk of indexes in a :class:`~.workers.Lane` and returns what it found; a worker
process keeps its lane (the strategy's calibrations) for its next chunk of the same exploration.
The executions of a chain (``strategy.chain(i)``: the portfolio's DPOR executions, each requiring
those before it) are cut into chunks of their own, all submitted to one Dask worker, which then
runs each once, in order, in the lane it keeps (elsewhere they would still be right, only slower:
a lane runs first, unreported, the chain's executions it has not run).
After a failure at index ``k`` the chunks from ``k`` on are cancelled; a chunk already running
finishes (chunks are small: a few seconds of executions at most). The coordinator merges, shrinks
and reports exactly as with local workers.

What must be shared: every Dask worker needs interlace and the program's dependencies installed,
and the program's files at the same paths as here (a script travels as its path and SHA-256, a
function as its qualified name). Workers should run one task at a time (``dask worker --nthreads
1``); a process runs one execution at a time anyway (a lock).
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from typing import Any

from ..strategies import Strategy
from .script import UsageError
from .workers import Backend, Lane, LaneEnd, Outcome, WorkerError

INSTALL = "pip install 'interlace[dask]'"

_lock = threading.Lock()  # one execution at a time in a worker process (the runtime is per process)
_lanes: dict[str, Lane] = {}  # exploration (its job's digest) -> this process's lane


def check_dask(address: str) -> None:
    """A UsageError (exit 2) if Dask is not installed or ``address`` is not a scheduler's address."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(f"--dask runs the exploration on a Dask cluster, and Dask's distributed package is not "
                         f"installed here. Install it with: {INSTALL}") from None
    if "://" not in address:
        raise UsageError(f"--dask takes the address of a Dask scheduler, like tcp://HOST:PORT, not {address!r}.")


class DaskWorkers(Backend):
    """Chunks of indexes submitted to the cluster at ``address``."""

    def __init__(self, address: str, data: bytes, executions: int, strategy: Strategy) -> None:
        from distributed import as_completed

        self.client, addresses = connect(address)
        size = max(1, min(50, executions // (max(len(addresses), 1) * 8)))
        digest = hashlib.sha256(data).hexdigest()[:16]
        self.chunks: dict[Any, int] = {}  # future -> its first index
        for chain, indexes in chunks(strategy, executions, size):
            where = {} if chain is None or not addresses else \
                {"workers": [addresses[chain % len(addresses)]], "allow_other_workers": True}
            future = self.client.submit(run_chunk, data, indexes, pure=False,
                                        key=f"interlace-{digest}-{time.time_ns()}-{indexes[0]}", **where)
            self.chunks[future] = indexes[0]
        self.pending = as_completed(list(self.chunks), loop=self.client.loop)
        self.done = 0

    def poll(self, timeout: float) -> list[Outcome | LaneEnd]:
        if not self.pending.has_ready():
            time.sleep(timeout)
        items: list[Outcome | LaneEnd] = []
        for future in self.pending.next_batch(block=False):
            if future.cancelled():
                continue
            if future.status == "error":
                raise WorkerError(f"a Dask task of the exploration failed: {future.exception()!r}")
            outcomes, end = future.result()
            self.done += end.executions
            items += outcomes
            items.append(end)
        return items

    def stop_from(self, index: int) -> None:
        late = [f for f, start in self.chunks.items() if start >= index and not f.done()]
        if late:
            self.client.cancel(late)

    def busy(self) -> bool:
        return not self.pending.is_empty()

    def progress(self) -> int:
        return self.done

    def close(self) -> None:
        self.client.cancel([f for f in self.chunks if not f.done()])
        self.client.close()


def connect(address: str) -> tuple[Any, list[str]]:
    """A Dask client of the scheduler at ``address``, and its workers' addresses (sorted)."""
    from distributed import Client

    try:
        client = Client(address, timeout=10, set_as_default=False)
    except OSError as exc:
        raise WorkerError(f"no Dask scheduler answers at {address}: {exc}") from None
    return client, sorted(client.scheduler_info().get("workers", {}))


def chunks(strategy: Strategy, executions: int, size: int) -> list[tuple[int | None, list[int]]]:
    """The indexes below ``executions`` cut into chunks of ``size`` (chain, its indexes), by first
    index: those of each chain (:meth:`~interlace.strategies.base.Strategy.chain`) apart (chain None:
    the others)."""
    cut: list[tuple[int | None, list[int]]] = []
    open_chunks: dict[int | None, list[int]] = {}
    for index in range(executions):
        chain = strategy.chain(index)
        chunk = open_chunks.setdefault(chain, [])
        chunk.append(index)
        if len(chunk) == size:
            cut.append((chain, open_chunks.pop(chain)))
    cut += open_chunks.items()
    return sorted(cut, key=lambda item: item[1][0])


def run_chunk(data: bytes, indexes: list[int]) -> tuple[list[Outcome], LaneEnd]:
    """A Dask task: executions ``indexes`` (ascending) of the exploration ``data`` (a pickled Job)."""
    key = hashlib.sha256(data).hexdigest()
    with _lock:
        lane = _lanes.get(key)
        if lane is None or any(i in lane.ran for i in indexes):
            lane = _lanes[key] = Lane(pickle.loads(data))  # its own executions must be reported: start anew
        before, unreported = lane.executions, len(lane.unreported)
        outcomes: list[Outcome] = []
        with lane:
            for index in indexes:
                out = lane.run(index)
                if out is not None:
                    outcomes.append(out)
                    if out.exhausted or out.failure is not None:
                        break
            assert lane.session is not None
            return outcomes, LaneEnd(lane.executions - before, list(lane.session.uninstrumented),
                                     lane.unreported[unreported:])
