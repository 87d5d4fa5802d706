"""``concurrent.futures.ThreadPoolExecutor`` under the scheduler: every execution has pools of its own.

A pool made *in* an execution is the program's: its workers are managed threads started by ``submit``,
its queue and semaphore are controlled, and its workers' order is the order they were added (so that
``shutdown`` joins them in the same order in every process).

A pool the execution did not make (a module-level ``POOL = ThreadPoolExecutor()``, a session fixture's
executor, ``asgiref``'s ``SyncToAsync.single_thread_executor``, or one made lazily by an earlier
execution) has workers nothing schedules: real threads waiting on a real queue, or threads of an earlier
execution that ended (the execution's end unwinds every managed thread). Handing them work would run the
program's function unseen, on the wall clock, beside the managed threads -- or never, since an ended
execution's threads are gone while the pool still counts them. So the first ``submit`` or ``shutdown``
of such a pool in an execution gives it a fresh state for that execution (queue, idle semaphore, worker
set and shutdown lock, as a new pool has; a pool shut down stays shut down), made by the managed caller:
its workers are started by the execution and explored like any thread. When the execution ends, the
pool gets its state back, so every execution starts from the pool as the exploration found it (same
decisions, same names) and the pool's own threads, which never saw the execution's work, go on serving
the program afterwards.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

from . import hooks

#: what a pool keeps for its workers (the attributes ``ThreadPoolExecutor.__init__`` sets that the
#: workers and ``submit``/``shutdown`` change): saved, and all but the flags made afresh (a pool shut down
#: before stays shut down); a Python without one of them simply has none to swap
_STATE = ("_work_queue", "_idle_semaphore", "_threads", "_shutdown_lock", "_shutdown", "_broken")


class OrderedThreads(dict):
    """The set of a ThreadPoolExecutor's workers, iterated in the order they were added.

    ``shutdown`` joins ``self._threads`` in iteration order; a plain set orders by object id, so the
    join order (and with it the schedule) would differ from one process to the next.
    """

    def add(self, item: Any) -> None:
        self[item] = None

    def discard(self, item: Any) -> None:
        self.pop(item, None)


class _Pools:
    """The pools of the running execution: made by it, or given a state of their own by it."""

    def __init__(self) -> None:
        self.execution: Any = None
        self.made: weakref.WeakSet = weakref.WeakSet()
        #: (pool, its state before the execution) for the pools the execution gave a state of its own
        self.saved: list[tuple[weakref.ref, dict[str, Any]]] = []

    def for_execution(self, ex: Any) -> _Pools:
        if self.execution is not ex:
            self.restore()
            self.execution = ex
        return self

    def restore(self) -> None:
        """Give every pool the execution gave a state of its own its state back."""
        saved, self.saved = self.saved, []
        for ref, state in reversed(saved):
            pool = ref()
            if pool is not None:
                vars(pool).update(state)
        self.made = weakref.WeakSet()
        self.execution = None


_pools = _Pools()


def made(pool: Any) -> None:
    """``pool`` was just made by a managed thread of the running execution: it is the program's."""
    ex = hooks._active
    if ex is None:
        return
    if isinstance(getattr(pool, "_threads", None), set):
        pool._threads = OrderedThreads.fromkeys(pool._threads)
    _pools.for_execution(ex).made.add(pool)


def adopt(pool: Any) -> None:
    """Before a managed thread submits to ``pool`` or shuts it down: a pool the running execution did
    not make gets a fresh state of its own for the execution (see the module's docstring)."""
    ex = hooks._active
    pools = _pools.for_execution(ex)
    if pool in pools.made:
        return
    state = vars(pool)
    pools.saved.append((weakref.ref(pool), {name: state[name] for name in _STATE if name in state}))
    pools.made.add(pool)
    fresh = {"_work_queue": queue.SimpleQueue, "_idle_semaphore": lambda: threading.Semaphore(0),
             "_threads": OrderedThreads, "_shutdown_lock": threading.Lock}
    for name, make in fresh.items():
        if name in state:
            state[name] = make()


def end_of_execution() -> None:
    """The execution ended (its threads have stopped): the pools it adopted get their state back."""
    _pools.restore()


def adopting(original: Callable[..., Any]) -> Callable[..., Any]:
    """``ThreadPoolExecutor.submit``/``shutdown`` that adopt the pool first when a managed thread calls."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        ex = hooks._active
        if ex is not None and ex.me() is not None:
            adopt(self)
        return original(self, *args, **kwargs)

    method.__name__ = original.__name__
    method.__qualname__ = original.__qualname__
    method.__doc__ = original.__doc__
    method.__wrapped__ = original  # type: ignore[attr-defined]
    return method


def made_by(original: Callable[..., None]) -> Callable[..., None]:
    """``ThreadPoolExecutor.__init__`` that notes a pool made by a managed thread as the execution's."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        original(self, *args, **kwargs)
        ex = hooks._active
        if ex is not None and ex.me() is not None:
            made(self)

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    return __init__
