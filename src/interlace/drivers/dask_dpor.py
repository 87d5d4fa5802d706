"""DPOR on a Dask cluster (``--strategy dpor --dask``): the subtrees of :mod:`.dpor_workers` as Dask tasks.

A task runs one subtree (a branch's execution and those after it below it, at most :data:`SUBTREE`)
in the lane its worker process keeps for the exploration, and returns the recordings; the coordinator
takes them in DPOR's order as with local workers. A task cannot be left half-way: when the
coordinator wants a busy worker for the next execution, the task is cancelled (one already running
finishes, and what it returns is only more recordings, used if they are DPOR's executions).
"""

from __future__ import annotations

import hashlib
import pickle
import time
from typing import Any

from .dask_backend import _lanes, _lock, connect
from .dpor_workers import _FINISHED, Recording, run_subtree
from .workers import Lane, WorkerError

SUBTREE = 16  # executions of a task: its recordings come back only when it ends


class DaskDporPool:
    """One subtree at a time on each worker of the cluster at ``address``."""

    def __init__(self, address: str, data: bytes) -> None:
        self.client, self.addresses = connect(address)
        self.n = max(1, len(self.addresses))
        self.data = data
        self.subtree = SUBTREE
        self.futures: list[Any] = [None] * self.n
        self.out: list[tuple[int, Recording | str]] = []
        self.name = f"interlace-dpor-{hashlib.sha256(data).hexdigest()[:16]}-{time.time_ns()}"
        self.sent = 0

    def submit(self, w: int, payload: bytes) -> None:
        old = self.futures[w]
        if old is not None:
            if old.done():
                self._harvest(w)
            else:
                self.client.cancel([old])
                self.out.append((w, _FINISHED))
        self.sent += 1
        where = {"workers": [self.addresses[w]], "allow_other_workers": True} if self.addresses else {}
        self.futures[w] = self.client.submit(run_dask_subtree, self.data, payload, pure=False,
                                             key=f"{self.name}-{self.sent}", **where)

    def _harvest(self, w: int) -> None:
        future, self.futures[w] = self.futures[w], None
        if future.status == "error":
            raise WorkerError(f"a Dask task of the exploration failed: {future.exception()!r}")
        if not future.cancelled():
            self.out += [(w, rec) for rec in future.result()]
        self.out.append((w, _FINISHED))

    def poll(self, timeout: float) -> list[tuple[int, Recording | str]]:
        deadline = time.monotonic() + timeout
        while True:
            for w, future in enumerate(self.futures):
                if future is not None and future.done():
                    self._harvest(w)
            if self.out or time.monotonic() >= deadline:
                out, self.out = self.out, []
                return out
            time.sleep(0.005)

    def close(self) -> None:
        self.client.cancel([f for f in self.futures if f is not None and not f.done()])
        self.client.close()


def run_dask_subtree(data: bytes, payload: bytes) -> list[Recording]:
    """A Dask task: the subtree ``payload`` (see :func:`.dpor_workers.branch_state`) of the exploration
    ``data`` (a pickled Job), in this process's lane for it."""
    key = hashlib.sha256(data).hexdigest()
    with _lock:
        lane = _lanes.get(key)
        if lane is None:
            lane = _lanes[key] = Lane(pickle.loads(data))
        with lane:
            return list(run_subtree(lane, payload, lambda: True))
