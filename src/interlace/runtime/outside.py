"""``multiprocessing``'s own machinery runs outside the scheduler: a ``Pool``'s handler threads, a
``multiprocessing.Queue``'s feeder thread, ``ProcessPoolExecutor``'s manager thread, and the locks,
events, futures and queues that the machinery makes for itself.

Why: what those threads wait for comes from other processes, and whether a pipe holds a result when a
thread looks is a wall-clock fact. Scheduled as managed threads, every look at a pipe would be a decision
that depends on the machine's load. Outside, they run as real threads on real primitives, and a managed
thread that calls into the machinery (``map``, ``apply``, ``AsyncResult.get``, ``Future.result``,
``close``/``join``/``terminate``) runs that call like any call into C: holding the baton, with no
scheduling point inside, blocking on the wall clock until the machinery answers. How long that takes is
invisible to the schedule (nothing else runs meanwhile), so the same seed makes the same decisions on an
idle and on a loaded machine. The program's own threads around the pool stay managed: a race between them
(``total += pool.apply(f, (x,))`` in two threads) is explored and replayed as usual, and races inside
``multiprocessing``'s code are not the program's (its threads are not even seen).

What is made "for the machinery" is decided where it is made, from the stack: the first frame that is
not ``threading``/``queue``/``concurrent.futures``' own sync code is in ``multiprocessing`` (not
``multiprocessing.dummy``, whose "processes" are threads, nor a ``ThreadPool``'s objects) or in
``concurrent/futures/process.py``. Limits: see docs/design.md, "multiprocessing".
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
import time
import types
import weakref
from typing import Any

from . import hooks

_STDLIB = os.path.dirname(os.path.abspath(threading.__file__))
_MULTIPROCESSING = os.path.join(_STDLIB, "multiprocessing") + os.sep
_DUMMY = os.path.join(_MULTIPROCESSING, "dummy") + os.sep
_PROCESS_POOL = os.path.join(_STDLIB, "concurrent", "futures", "process.py")

_real_allocate_lock = _thread.allocate_lock
_real_rlock = _thread.RLock

#: the threads :func:`mark_thread` found to be the machinery's (started as real, unmanaged threads)
_threads: weakref.WeakSet = weakref.WeakSet()
#: the threads inside a :class:`making` block (a set, not a thread-local: empty, it costs one truth test)
_making: set[int] = set()


def is_machinery_file(filename: str) -> bool:
    """Whether code of ``filename`` is ``multiprocessing``'s process machinery."""
    if filename.startswith(_MULTIPROCESSING):
        return not filename.startswith(_DUMMY)
    return filename == _PROCESS_POOL


def _thread_pool(obj: Any) -> bool:
    """Whether ``obj`` is (or belongs to) a ``multiprocessing.pool.ThreadPool``: threads, all managed."""
    pool_module = sys.modules.get("multiprocessing.pool")
    if pool_module is None or obj is None:
        return False
    thread_pool = pool_module.ThreadPool
    if isinstance(obj, type):
        return issubclass(obj, thread_pool)
    if isinstance(obj, (pool_module.ApplyResult, pool_module.IMapIterator)):  # (their pool is set first)
        return isinstance(getattr(obj, "_pool", None), thread_pool)
    return isinstance(obj, thread_pool)


def for_machinery(frame: Any, sync_files: frozenset) -> bool:
    """Whether what is being made at ``frame`` (a factory's caller) is made for the machinery."""
    if _making and _thread.get_ident() in _making:
        return True
    while frame is not None and frame.f_code.co_filename in sync_files:
        frame = frame.f_back
    if frame is None or not is_machinery_file(frame.f_code.co_filename):
        return False
    local = frame.f_locals
    return not _thread_pool(local.get("self")) and not _thread_pool(local.get("cls"))


class making:  # noqa: N801 - used as a context manager, like a function
    """Everything made in this block by this thread is the machinery's (the waiters that
    ``concurrent.futures.wait``/``as_completed`` install on a ``ProcessPoolExecutor``'s futures)."""

    def __enter__(self) -> None:
        self._ident = _thread.get_ident()
        self._nested = self._ident in _making
        _making.add(self._ident)

    def __exit__(self, *exc: Any) -> None:
        if not self._nested:
            _making.discard(self._ident)


def mark_thread(thread: threading.Thread, frame: Any, sync_files: frozenset) -> bool:
    """Called when a managed thread starts ``thread``: remember it as the machinery's if it is."""
    if for_machinery(frame, sync_files):
        _threads.add(thread)
        return True
    return False


def is_machinery_thread(thread: Any) -> bool:
    return thread in _threads


class OutsideLock:
    """A real lock, for the machinery: every caller gets the real behaviour (a managed thread blocks on
    the wall clock with the baton). A type of its own so that a ``Condition`` on it gets real waiters."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self) -> None:
        self._lock = _real_allocate_lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def _at_fork_reinit(self) -> None:
        self._lock._at_fork_reinit()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    acquire_lock = acquire
    release_lock = release

    def __getattr__(self, name: str) -> Any:  # the rest of the real lock's interface (_recursion_count)
        return getattr(self._lock, name)

    def __repr__(self) -> str:
        return f"<interlace.OutsideLock {self._lock!r}>"


class OutsideRLock(OutsideLock):
    """A real ``RLock``, for the machinery, with the hooks ``Condition`` uses."""

    __slots__ = ()

    def __init__(self) -> None:
        self._lock = _real_rlock()

    def _is_owned(self) -> bool:
        return self._lock._is_owned()

    def _release_save(self) -> Any:
        return self._lock._release_save()

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)

    def __repr__(self) -> str:
        return f"<interlace.OutsideRLock {self._lock!r}>"


OUTSIDE_TYPES = (OutsideLock, OutsideRLock)


def waits_outside(condition: Any) -> bool:
    """Whether ``condition`` (a ``Condition`` being waited on) is the machinery's: its waiter is real."""
    return isinstance(getattr(condition, "_lock", None), OUTSIDE_TYPES)


# -- the wall clock, for the machinery's modules -----------------------------------------------------


class _RealTime(types.ModuleType):
    """``time`` as the machinery's modules see it during an exploration: the real clock and sleep (its
    polls of pipes and processes run on the wall clock, outside the virtual one)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def real_time(originals: dict[str, Any]) -> types.ModuleType:
    """A ``time`` module whose ``sleep``/``monotonic``/... are ``originals`` (saved before patching)."""
    module = _RealTime("time")
    module.__dict__.update(originals)
    return module


#: the machinery's modules that call ``time`` (their global ``time`` is swapped during an exploration)
TIMED_MODULES = ("multiprocessing.connection", "multiprocessing.pool", "multiprocessing.queues",
                 "multiprocessing.synchronize")


# -- a forked child is not part of the execution -------------------------------------------------------


def _after_fork_in_child() -> None:
    """A worker process forked while an execution runs (a fork-context ``Pool``) runs the program's
    functions on its own: nothing schedules its single thread, so the hooks must not try."""
    if hooks._active is not None:
        hooks.set_active(None)


os.register_at_fork(after_in_child=_after_fork_in_child)
