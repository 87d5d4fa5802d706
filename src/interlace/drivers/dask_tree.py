"""DFS's tree split on a Dask cluster (``--strategy dfs --dask``): the walk of :mod:`.tree_workers`
with Dask tasks for worker processes, the answer of one worker.

One task per Dask worker (``w`` of ``n``, pinned to the ``w``-th worker, a preference Dask may
override) walks its units exactly as a local tree worker does (:func:`.tree_workers.walk_share`).
A unit's tree stays with the process that built it, so a task is the whole of a worker's walk
rather than a chunk of it. What a local worker tells through its pipe and shared memory travels
through a Dask Queue (its messages, its running position and its count, in batches) and a Dask
Variable (the coordinator's limit), both looked at every :data:`SYNC` seconds and at the walk's
end. Only the speed of stopping depends on that cadence, not the answer: the coordinator counts
the executions by position (:class:`.tree_workers.TreeTally`), and a task's stale limit is only
larger than the true one. A task past the limit stops at its next look (cancelling a running Dask
task does not stop it).
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from typing import Any

from .dask_backend import _lock, connect
from .tree_workers import walk_share
from .workers import Backend, Job, Lane, LaneEnd, WorkerError

SYNC = 0.1  # seconds between a task's looks at the coordinator (its limit) and reports to it

_FAR = 2**62  # no limit yet
CLOSE_WAIT = 5.0  # seconds the coordinator waits, at the end, for running tasks to stop before deleting the limit
LOOK_WAIT = 5.0  # seconds a task waits for the limit (deleted: the exploration ended) before it stops


class DaskTreeWorkers(Backend):
    """One walking task per Dask worker of the cluster at ``address`` (at most ``executions``)."""

    def __init__(self, address: str, data: bytes, executions: int) -> None:
        from distributed import Queue, Variable

        self.client, addresses = connect(address)
        self.n = max(1, min(len(addresses), executions))
        name = f"interlace-tree-{time.time_ns()}"
        self.queue = Queue(f"{name}-reports", client=self.client)
        self.limit = Variable(f"{name}-limit", client=self.client)
        self.limit.set(_FAR)
        self.running = [-1] * self.n  # each task's position, as it last reported it
        self.done = [0] * self.n
        self.ended = [False] * self.n
        self.told = [0] * self.n  # the messages of each task's walk taken (a retried task tells them again)
        self.futures = []
        for w in range(self.n):
            where = {"workers": [addresses[w]], "allow_other_workers": True} if addresses else {}
            self.futures.append(self.client.submit(walk_task, data, w, self.n, name, pure=False,
                                                   key=f"{name}-walk-{w}", **where))

    def poll(self, timeout: float) -> list[Any]:
        batch = self.queue.get(batch=True)
        if not batch:
            for future in self.futures:
                if future.status == "error":
                    raise WorkerError(f"a Dask task of the exploration failed: {future.exception()!r}")
            time.sleep(timeout)
            batch = self.queue.get(batch=True)
        items: list[Any] = []
        for w, offset, running, done, messages in batch:
            # a task Dask runs again (its worker died) walks the same units again and tells the same
            # messages from the first: those taken already are skipped, and what it says of how far it
            # got only counts when it is further than before (the coordinator's counts only grow)
            self.running[w] = max(self.running[w], running)
            self.done[w] = max(self.done[w], done)
            new = messages[max(self.told[w] - offset, 0):]
            self.told[w] = max(self.told[w], offset + len(messages))
            if any(isinstance(m, LaneEnd) for m in messages) and not self.ended[w]:
                self.ended[w] = True
                if not any(isinstance(m, LaneEnd) for m in new):
                    new.append(next(m for m in messages if isinstance(m, LaneEnd)))
            items += new
        return items

    def stop_from(self, index: int) -> None:
        self.limit.set(index)

    def busy(self) -> bool:
        return not all(self.ended)

    def progress(self) -> int:
        return sum(self.done)

    def close(self) -> None:
        try:
            self.limit.set(0)  # running tasks stop at their next look, and say so
            deadline = time.monotonic() + CLOSE_WAIT
            try:
                while not all(self.ended) and time.monotonic() < deadline:
                    self.poll(SYNC)
            except WorkerError:
                pass  # a task failed: what it says now changes nothing (the exploration ends with its error)
            # deleted, the limit is no longer on the scheduler; a task still running would wait for it at its
            # next look, but only for LOOK_WAIT seconds, and then stops as at a limit of 0
            self.limit.delete()
            self.client.cancel([f for f in self.futures if not f.done()])
            self.queue.close()
        finally:
            self.client.close()


class _Link:
    """A task's side of the line to the coordinator: the ``conn`` and ``limit`` of :func:`walk_share`."""

    def __init__(self, w: int, n: int, name: str) -> None:
        from distributed import Queue, Variable

        self.w = w
        self.queue = Queue(f"{name}-reports")
        self.limit = Variable(f"{name}-limit")
        self.running = [-1] * n
        self.done = [0] * n
        self.messages: list[Any] = []
        self.told = 0  # messages put in the queue so far: where the next batch begins in this walk's
        self.seen = _FAR
        self.synced = time.perf_counter()

    @property
    def value(self) -> int:
        """The limit, as the coordinator last set it (looked at every :data:`SYNC` seconds)."""
        if time.perf_counter() - self.synced >= SYNC:
            self.sync()
        return self.seen

    def send(self, message: Any) -> None:
        self.messages.append(message)

    def sync(self) -> None:
        w = self.w
        self.queue.put((w, self.told, self.running[w], self.done[w], self.messages))
        self.told += len(self.messages)
        self.messages = []
        try:
            self.seen = self.limit.get(timeout=LOOK_WAIT)
        except Exception:  # noqa: BLE001 - Dask's TimeoutError (the exploration ended and deleted it), or a lost scheduler
            self.seen = 0
        self.synced = time.perf_counter()


def walk_task(data: bytes, w: int, n: int, name: str) -> None:
    """A Dask task: worker ``w`` of ``n``'s walk of the exploration ``data`` (a pickled Job)."""
    job: Job = dataclasses.replace(pickle.loads(data), time_limit=None)  # not applied on a cluster
    link = _Link(w, n, name)
    with _lock, Lane(job) as lane:
        walk_share(lane, w, n, link, None, link.running, link.done, link, time.perf_counter())
        assert lane.session is not None
        link.send(LaneEnd(lane.executions, list(lane.session.uninstrumented), lane.unreported))
        link.sync()
