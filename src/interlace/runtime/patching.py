"""Installing the controlled runtime into ``threading``, ``time``, ``queue`` and ``concurrent.futures``.

Only a handful of names are replaced (see :mod:`interlace.runtime.locks` for why that is enough), and
each replacement checks whether its caller is a managed thread of the active execution: anything
else -- pytest's own threads, a user's background thread -- gets the original behaviour. The patches
are installed for the duration of an exploration and removed afterwards.
"""

from __future__ import annotations

import _thread
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from . import bound, eventloop, handoffs, hooks, leftovers, outside, pools, semlocks
from .locks import ControlledLock, ControlledRLock, _tell
from .state import FINISHED, SLEEP

_real_sleep = time.sleep
_real_time = time.time
_real_time_ns = time.time_ns
_real_monotonic = time.monotonic
_real_monotonic_ns = time.monotonic_ns
_real_perf_counter = time.perf_counter
_real_perf_counter_ns = time.perf_counter_ns
_real_allocate_lock = _thread.allocate_lock
_real_rlock_factory = threading.RLock
_real_crlock = getattr(threading, "_CRLock", None)
_real_lock_attr = threading.Lock
_real_simple_queue = queue.SimpleQueue
_real_start = threading.Thread.start
_real_join = threading.Thread.join
_real_is_alive = threading.Thread.is_alive
_real_run = threading.Thread.run
_real_excepthook = threading.excepthook
_real_start_new_thread = getattr(threading, "_start_new_thread", None)
_real_start_joinable = getattr(threading, "_start_joinable_thread", None)
_real_get_ident = _thread.get_ident
_real_get_native_id = getattr(_thread, "get_native_id", None)
_real_ident_property = threading.Thread.ident
_real_native_id_property = getattr(threading.Thread, "native_id", None)
_real_thread_repr = threading.Thread.__repr__

REAL_LOCK_TYPE = type(_real_allocate_lock())
REAL_RLOCK_TYPES = tuple(t for t in {type(_real_rlock_factory())} if t is not ControlledRLock)

_STDLIB_SYNC_FILES = frozenset(
    os.path.abspath(m.__file__) for m in (threading, queue) if getattr(m, "__file__", None)
) | frozenset(
    os.path.join(os.path.dirname(os.path.abspath(threading.__file__)), "concurrent", "futures", f)
    for f in ("_base.py", "thread.py")
)

#: where virtual ``time.monotonic()`` starts; ``time.time()`` starts at the execution's epoch
MONOTONIC_BASE = 1000.0

#: the thread identity the program sees for thread n of an execution (n = 0 for the main thread):
#: ``get_ident()`` / ``Thread.ident`` is VIRTUAL_IDENT_BASE + n * 0x1000, ``get_native_id()`` /
#: ``Thread.native_id`` is VIRTUAL_NATIVE_ID_BASE + n. Real ones differ from run to run, and a
#: replay must print what the recorded run printed.
VIRTUAL_IDENT_BASE = 0x7F0000000000
VIRTUAL_NATIVE_ID_BASE = 100_000


def _managed() -> tuple[Any, Any]:
    ex = hooks._active
    if ex is None:
        return None, None
    return ex, ex.me()


# -- factories for locks and queues ----------------------------------------------------------------


def _internal_owner(frame: Any) -> tuple[str | None, bool]:
    """Who a lock is created for: ``(None, False)`` when the code under test makes it directly,
    ``("Condition", False)`` for the lock of a Condition the code under test made (it takes that lock
    itself, with ``with cond:``), ``("Event", True)`` for a lock the stdlib keeps to itself (an
    Event's, a Queue's, a Future's condition): those are *internal*, kept out of traces, and give no
    happens-before edges (their objects' own hand-offs do, see handoffs.py)."""
    owner, outer = None, None
    while frame is not None and frame.f_code.co_filename in _STDLIB_SYNC_FILES:
        if frame.f_code is _THREAD_INIT:
            # a thread's own (its start's handshake), whoever makes the thread: a pool, a subclass
            return "Thread", True
        outer = frame.f_locals.get("self")
        owner = type(outer).__name__ if outer is not None else frame.f_code.co_name
        frame = frame.f_back
    return owner, owner is not None and not _users_lock(outer)


_THREAD_INIT = threading.Thread.__init__.__code__


#: what the standard library's queues call while they hold their mutex: overridden by a subclass,
#: code under test runs inside those critical sections
_QUEUE_HOOKS = ("_init", "_qsize", "_put", "_get")


def _users_lock(obj: Any) -> bool:
    """Whether the lock a stdlib primitive makes for ``obj`` is one the code under test takes itself:
    a Condition's or a Python RLock's (of any subclass), or the mutex of a Queue subclass whose own
    ``_put``/``_get``/... run under it. Such a lock gives happens-before edges. Classes are recognised by their place in
    the MRO (module and name), so that subclasses and freshly imported copies of ``threading`` and
    ``queue`` (``import_fresh_module``) are too."""
    if obj is None:
        return False
    mro = type(obj).__mro__
    if any(k.__name__ in ("Condition", "_RLock") and k.__module__ == "threading" for k in mro):
        return True
    if any(k.__name__ == "Queue" and k.__module__ == "queue" for k in mro):
        return any(name in vars(klass) for klass in mro if klass.__module__ != "queue" for name in _QUEUE_HOOKS)
    return False


def Lock() -> Any:  # noqa: N802 - stands in for threading.Lock
    ex, me = _managed()
    if me is None:
        return _real_allocate_lock()
    if outside.for_machinery(sys._getframe(1), _STDLIB_SYNC_FILES):
        return _for_machinery(outside.OutsideLock)
    owner, internal = _internal_owner(sys._getframe(1))
    if owner is not None:
        _adopt_copies(sys._getframe(1))
    if owner is None:
        return ControlledLock()
    return _named(ControlledLock(_lock_label(owner, me), internal=internal), me)


def _adopt_copies(frame: Any) -> None:
    """A stdlib primitive is being made: if its class is a copy of one the patches wrap (a module
    imported afresh), give the copy the same wrappers, once per class."""
    patches = _installed
    if patches is None:
        return
    while frame is not None and frame.f_code.co_filename in _STDLIB_SYNC_FILES:
        obj = frame.f_locals.get("self")
        if obj is not None:
            patches.adopt_copies(type(obj))
        frame = frame.f_back


def _for_machinery(make: Callable[[], Any]) -> Any:
    """Something made for multiprocessing's machinery (runtime/outside.py): a real one. The machinery's
    modules imported since the installation get the real clock now, before they can use it."""
    patches = _installed
    if patches is not None:
        patches.adopt_machinery()
    return make()


def _lock_label(owner: str, me: Any) -> str:
    site = me.site
    return f"{owner}@{os.path.basename(site[0])}:{site[1]}" if site else owner


def _allocate_lock() -> Any:
    """``threading._allocate_lock``: ``Condition.wait`` uses it for its waiter locks, and the Python
    ``RLock`` (``threading._RLock``, or a subclass of it) for the lock it is made of."""
    ex, me = _managed()
    if me is None:
        return _real_allocate_lock()
    frame = sys._getframe(1)
    if frame.f_code.co_name != "__init__":
        if outside.waits_outside(frame.f_locals.get("self")):
            return outside.OutsideLock()  # a waiter of the machinery's Condition: released by its threads
        return ControlledLock("Condition waiter", tracked=False)
    if outside.for_machinery(frame, _STDLIB_SYNC_FILES):
        return _for_machinery(outside.OutsideLock)
    owner, internal = _internal_owner(frame)
    return _named(ControlledLock(_lock_label(owner or "_RLock", me), internal=internal), me)


def RLock(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - stands in for threading.RLock
    ex, me = _managed()
    if me is None:
        return _real_rlock_factory(*args, **kwargs)
    if outside.for_machinery(sys._getframe(1), _STDLIB_SYNC_FILES):
        return _for_machinery(outside.OutsideRLock)
    owner, internal = _internal_owner(sys._getframe(1))
    if owner is not None:
        _adopt_copies(sys._getframe(1))
    if owner is None:
        return ControlledRLock()
    return _named(ControlledRLock(_lock_label(owner, me), internal=internal), me)


#: (thread, label) -> how many internal locks with that label the thread made in this execution
_made_internal: dict[tuple[int, str], int] = {}


def _named(lock: Any, me: Any) -> Any:
    """An internal lock (an Event's, a Queue's, a Future's) gets an identity of its own for DPOR.

    Its label names where the program made the primitive, which many share (a pool's queue, its idle
    semaphore and its shutdown lock; every future submitted on one line): as one location, every
    acquire of any of them conflicted with all the others, and two workers doing nothing made more than
    30,000 interleaving classes. The identity adds the thread that made the lock and how many such
    locks it made before: the same in every execution whose thread did the same before (a thread's own
    order does not depend on the schedule), so what DPOR keeps across executions still names it."""
    if lock.internal:
        key = (me.tid, lock.label)
        n = _made_internal.get(key, 0) + 1
        _made_internal[key] = n
        lock.ident = f"{lock.label}#{me.tid}.{n}"
    return lock


def SimpleQueue() -> Any:  # noqa: N802 - stands in for queue.SimpleQueue
    ex, me = _managed()
    if me is None:
        return _real_simple_queue()
    if outside.for_machinery(sys._getframe(1), _STDLIB_SYNC_FILES):
        return _for_machinery(_real_simple_queue)
    return queue._PySimpleQueue()


# -- virtual clock -----------------------------------------------------------------------------------


def sleep(secs: float) -> None:
    ex, me = _managed()
    if me is None:
        return _real_sleep(secs)
    try:
        secs = float(secs)
    except TypeError:
        raise TypeError(
            f"'{type(secs).__name__}' object cannot be interpreted as an integer or float"
        ) from None
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    ex.point(me, "sleep", f"sleep({secs:g})")
    if secs > 0 and not ex.block(me, SLEEP, secs):
        _tell(ex, "expired", me, None)  # woken by the virtual clock (see locks.py)


def monotonic() -> float:
    ex, me = _managed()
    return _real_monotonic() if me is None else MONOTONIC_BASE + ex.clock(me)


def monotonic_ns() -> int:
    ex, me = _managed()
    return _real_monotonic_ns() if me is None else int((MONOTONIC_BASE + ex.clock(me)) * 1e9)


def perf_counter() -> float:
    ex, me = _managed()
    return _real_perf_counter() if me is None else MONOTONIC_BASE + ex.clock(me)


def perf_counter_ns() -> int:
    ex, me = _managed()
    return _real_perf_counter_ns() if me is None else int((MONOTONIC_BASE + ex.clock(me)) * 1e9)


def time_() -> float:
    ex, me = _managed()
    return _real_time() if me is None else ex.epoch + ex.clock(me)


def time_ns() -> int:
    ex, me = _managed()
    return _real_time_ns() if me is None else int((ex.epoch + ex.clock(me)) * 1e9)


time_.__name__ = "time"

# -- threads -------------------------------------------------------------------------------------------


def _start(self: threading.Thread) -> None:
    ex, me = _managed()
    if me is not None and outside.mark_thread(self, sys._getframe(1), _STDLIB_SYNC_FILES):
        return _for_machinery(lambda: _real_start(self))  # the machinery's thread: real, outside the execution
    if me is not None and self._initialized and not isinstance(_event_lock(self._started), ControlledLock):
        self._started = threading.Event()  # created outside the execution: make it controllable
    _real_start(self)


def _run(self: threading.Thread) -> None:
    """``Thread.run`` of a managed thread: its target is called as instrumented code calls a function.

    A target that is not instrumented (``list.append``, a library function) has no scheduling point
    of its own before it acts, and the starter, woken by ``_started.set()``, could never run before
    it: the order "start() returned, the target has not run yet" went unexplored. Called this way it
    is one (an access of the container, or a call into code interlace cannot see); an instrumented
    target makes its own at its first access. The thread bodies of ``concurrent.futures`` and
    ``queue``/``threading`` begin with a controlled primitive's scheduling point: they get none.
    """
    ex, me = _managed()
    target = getattr(self, "_target", None)
    if me is None or target is None or _stdlib_body(target):
        return _real_run(self)
    fn = ex.call(target, me.site or _RUN_SITE, self._args, entry=True)
    if fn is not target:
        self._target = fn  # a controlled stand-in (a ``time.sleep`` bound before interlace was active)
    return _real_run(self)  # (its frame in a traceback, as without interlace)


#: where a thread whose starter's place is not known (code that is not instrumented) calls its target
_RUN_SITE = (threading.__file__, _real_run.__code__.co_firstlineno, 0)


def _stdlib_body(target: Any) -> bool:
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    return code is not None and code.co_filename in _STDLIB_SYNC_FILES


def _event_lock(event: Any) -> Any:
    return getattr(getattr(event, "_cond", None), "_lock", None)


def _start_new_thread(function: Any, args: tuple = (), kwargs: dict | None = None) -> int:
    ex, me = _managed()
    thread = getattr(function, "__self__", None)
    if me is None or not isinstance(thread, threading.Thread) or outside.is_machinery_thread(thread):
        return _real_start_new_thread(function, args, kwargs or {})
    ex.classifier.adopt_thread(thread)
    ex.spawn(thread, lambda boot: _real_start_new_thread(boot, (function,)))
    return 0


def _start_joinable_thread(function: Any, handle: Any = None, daemon: bool = True) -> Any:
    ex, me = _managed()
    thread = getattr(function, "__self__", None)
    if me is None or not isinstance(thread, threading.Thread) or outside.is_machinery_thread(thread):
        return _real_start_joinable(function, handle=handle, daemon=daemon)
    ex.classifier.adopt_thread(thread)
    result: list = []
    ex.spawn(thread, lambda boot: result.append(
        _real_start_joinable(lambda: boot(function), handle=handle, daemon=daemon)))
    return result[0] if result else handle


def _join(self: threading.Thread, timeout: float | None = None) -> None:
    ex, me = _managed()
    ts = ex.by_thread.get(self) if me is not None else None
    if ts is None or ts.tid == 0:
        if ts is None and me is not None and leftovers.kept(self):
            leftovers.touched(ex, me, self, "join()")
        return _real_join(self, timeout)
    if not self._initialized:
        raise RuntimeError("Thread.__init__() not called")
    if not self._started.is_set():
        raise RuntimeError("cannot join thread before it is started")
    if ts is me:
        raise RuntimeError("cannot join current thread")
    # a join that may time out orders nothing for the systematic strategies (its wait may end before
    # the thread does: ``Execution._advance_time``), so it does not name the thread as a join does
    ex.point(me, "join", ts.name if timeout is None else f"{ts.name} (timeout {timeout})")
    if ts.status != FINISHED:
        if timeout is not None:
            timeout = max(float(timeout), 0.0)
            if timeout == 0:
                return
        if not ex.block(me, ts, timeout, guard=True):
            _tell(ex, "expired", me, ts)
    if ts.status == FINISHED and ex.observers:
        ex.synced("join", me, ts)


def _is_alive(self: threading.Thread) -> bool:
    ex, me = _managed()
    ts = ex.by_thread.get(self) if me is not None else None
    if ts is None or ts.tid == 0:
        if ts is None and me is not None and leftovers.kept(self):
            leftovers.touched(ex, me, self, "is_alive()")
        return _real_is_alive(self)
    _tell(ex, "alive", me, ts)  # a read of what the thread's end writes (Execution._thread_finished)
    return ts.status != FINISHED


# -- thread identity -------------------------------------------------------------------------------


def _os_tid(ex: Any, me: Any) -> int:
    """The tid of the OS thread ``me`` runs on: its own, or for an asyncio task its loop's thread's."""
    if me.task is None:
        return me.tid
    return ex.by_ident[me.ident].tid


def get_ident() -> int:
    ex, me = _managed()
    return _real_get_ident() if me is None else VIRTUAL_IDENT_BASE + _os_tid(ex, me) * 0x1000


def get_native_id() -> int:
    ex, me = _managed()
    if me is None:
        return _real_get_native_id()  # type: ignore[misc]
    return VIRTUAL_NATIVE_ID_BASE + _os_tid(ex, me)


def _state_of(thread: threading.Thread) -> Any:
    """The thread's state in the active execution, when the asking thread is managed by it."""
    ex, me = _managed()
    return ex.by_thread.get(thread) if me is not None else None


def _ident(self: threading.Thread) -> int | None:
    ts = _state_of(self)
    real = _real_ident_property.fget(self)  # type: ignore[union-attr]
    return real if ts is None or real is None else VIRTUAL_IDENT_BASE + ts.tid * 0x1000


def _native_id(self: threading.Thread) -> int | None:
    ts = _state_of(self)
    real = _real_native_id_property.fget(self)  # type: ignore[union-attr]
    return real if ts is None or real is None else VIRTUAL_NATIVE_ID_BASE + ts.tid


def _thread_repr(self: threading.Thread) -> str:
    text = _real_thread_repr(self)
    real = getattr(self, "_ident", None)
    ts = _state_of(self) if real is not None else None
    if ts is None:
        return text
    text = text.replace(f" {real})", f" {VIRTUAL_IDENT_BASE + ts.tid * 0x1000})", 1)
    if ts.status == FINISHED:  # joined: the real thread may still be on its way out
        text = text.replace(", started", ", stopped", 1)
    return text


def _log_record_init(original: Callable[..., None]) -> Callable[..., None]:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        original(self, *args, **kwargs)
        ex, me = _managed()
        if me is not None and self.thread is not None:
            self.thread = VIRTUAL_IDENT_BASE + _os_tid(ex, me) * 0x1000

    __init__.__wrapped__ = original  # type: ignore[attr-defined]
    return __init__


def _excepthook(args: Any) -> None:
    ex, me = _managed()
    if me is None:
        return _real_excepthook(args)
    if args.exc_type is SystemExit:
        return None
    ex.thread_exception(args.exc_value)
    return None


def _outside_waiters(original: Callable[..., Any]) -> Callable[..., Any]:
    def _create_and_install_waiters(fs: Any, return_when: Any) -> Any:
        if any(outside.waits_outside(getattr(f, "_condition", None)) for f in fs):
            with outside.making():
                return original(fs, return_when)
        return original(fs, return_when)

    _create_and_install_waiters.__wrapped__ = original  # type: ignore[attr-defined]
    return _create_and_install_waiters


# -- installation ----------------------------------------------------------------------------------------


_installed: RuntimePatches | None = None
"""The patches in place, if any: a copy of a patched class met during an execution joins them."""


class RuntimePatches:
    """Replaces the names above for an exploration; :meth:`refresh` resets per-execution state."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []
        self._adopted: set[type] = set()
        self._semlocks = semlocks.SemLockPatches()

    def _set(self, owner: Any, name: str, value: Any) -> None:
        if isinstance(owner, dict):  # a module's globals
            if name in owner:
                self._saved.append((owner, name, owner[name]))
                owner[name] = value
            return
        if not hasattr(owner, name):
            return
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def adopt_copies(self, cls: type) -> None:
        """The wrappers of :mod:`handoffs` on the classes of ``cls``'s MRO that are copies of the
        wrapped ones (a ``queue`` module imported afresh keeps its own ``Queue``), and that module's
        clock on the virtual one (``queue`` binds ``time`` when it is imported)."""
        if cls in self._adopted:
            return
        self._adopted.add(cls)
        for klass in cls.__mro__:
            wrappers = handoffs.copy_wrappers(klass)
            for name, wrap in wrappers:
                original = vars(klass)[name]
                if getattr(original, "__wrapped__", None) is None:
                    self._set(klass, name, wrap(original))
            if wrappers and klass.__module__ == "queue":
                method = vars(klass).get("__init__")
                module_globals = getattr(method, "__globals__", None)
                if module_globals is not None and module_globals is not vars(queue) \
                        and module_globals.get("time") is not monotonic:
                    self._set(module_globals, "time", monotonic)

    def install(self) -> RuntimePatches:
        global _installed
        _installed = self
        leftovers.exploration_starts()
        for name, value in (("Lock", Lock), ("_allocate_lock", _allocate_lock), ("RLock", RLock),
                            ("_time", monotonic), ("excepthook", _excepthook)):
            self._set(threading, name, value)
        if _real_start_new_thread is not None:
            self._set(threading, "_start_new_thread", _start_new_thread)
        if _real_start_joinable is not None:
            self._set(threading, "_start_joinable_thread", _start_joinable_thread)
        self._set(threading, "_counter", threading._counter)
        self._set(threading.Thread, "start", _start)
        self._set(threading.Thread, "join", _join)
        self._set(threading.Thread, "is_alive", _is_alive)
        self._set(threading.Thread, "run", _run)
        self._set(threading.Thread, "ident", property(_ident, doc=_real_ident_property.__doc__))
        if _real_native_id_property is not None:
            self._set(threading.Thread, "native_id", property(_native_id, doc=_real_native_id_property.__doc__))
        self._set(threading.Thread, "__repr__", _thread_repr)
        import logging  # now, so that every execution's log records carry the virtual thread identity

        self._set(logging.LogRecord, "__init__", _log_record_init(logging.LogRecord.__init__))
        for name, value in (("sleep", sleep), ("time", time_), ("time_ns", time_ns),
                            ("monotonic", monotonic), ("monotonic_ns", monotonic_ns),
                            ("perf_counter", perf_counter), ("perf_counter_ns", perf_counter_ns)):
            self._set(time, name, value)
        self._set(queue, "time", monotonic)
        self._set(queue, "SimpleQueue", SimpleQueue)
        # imported now, not lazily by the code under test: its module-level lock must be patched (and
        # restored) by this installation, not left controlled after the exploration
        import concurrent.futures.thread as cf_thread

        self._set(cf_thread, "_global_shutdown_lock", cf_thread._global_shutdown_lock)
        handoffs.install(self._set)
        eventloop.install(self._set)
        self._install_machinery()
        self._semlocks.install()
        pool = cf_thread.ThreadPoolExecutor
        self._set(pool, "__init__", pools.made_by(pool.__init__))
        self._set(pool, "submit", pools.adopting(pool.submit))
        self._set(pool, "shutdown", pools.adopting(pool.shutdown))
        # (after the rest: time's functions are patched now)
        # (the C RLock and SimpleQueue classes as the patched modules' own names are: by their factories)
        bound.swap_bound(substitutions(), self._set,
                         (_real_simple_queue,) + ((_real_crlock,) if _real_crlock is not None else ()))
        return self

    def _install_machinery(self) -> None:
        """multiprocessing's machinery runs outside the execution (see runtime/outside.py): the waiters
        that ``concurrent.futures.wait``/``as_completed`` install on the futures of a
        ``ProcessPoolExecutor`` are real, like those futures' own locks; and its modules keep the real
        clock and sleep (:meth:`adopt_machinery`)."""
        self._real_time = outside.real_time({
            "sleep": _real_sleep, "time": _real_time, "time_ns": _real_time_ns, "monotonic": _real_monotonic,
            "monotonic_ns": _real_monotonic_ns, "perf_counter": _real_perf_counter,
            "perf_counter_ns": _real_perf_counter_ns})
        self.adopt_machinery()
        import concurrent.futures._base as cf_base

        self._set(cf_base, "_create_and_install_waiters",
                  _outside_waiters(cf_base._create_and_install_waiters))

    def adopt_machinery(self) -> None:
        """The machinery's modules imported so far get the real clock and sleep (their global ``time``).
        Called at installation and whenever something is made for the machinery, not by importing them
        here: a replay with ``fresh_modules`` drops what it imported, and importing ``_multiprocessing``
        afresh again and again crashed the interpreter (in-process replays of a recording, 30 times)."""
        real_time = self._real_time
        for name in outside.TIMED_MODULES:
            module = sys.modules.get(name)
            if module is not None and vars(module).get("time") is not real_time:
                self._set(vars(module), "time", real_time)

    def refresh(self) -> None:
        """Fresh per-execution state: thread names count from 1, module-level locks are free."""
        threading._counter = itertools.count(1).__next__
        _made_internal.clear()
        cf_thread = sys.modules["concurrent.futures.thread"]
        cf_thread._global_shutdown_lock = ControlledLock("concurrent.futures global shutdown lock")

    def uninstall(self) -> None:
        global _installed
        if _installed is self:
            _installed = None
        self._adopted.clear()
        self._semlocks.uninstall()
        while self._saved:
            owner, name, value = self._saved.pop()
            if isinstance(owner, dict):
                owner[name] = value
            else:
                setattr(owner, name, value)

    def __enter__(self) -> RuntimePatches:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.uninstall()


def substitutions() -> dict[int, Any]:
    """Originals that code under test may have bound before interlace was active -> replacements."""
    pairs: list[tuple[Any, Callable]] = [
        (_real_sleep, sleep), (_real_time, time_), (_real_time_ns, time_ns),
        (_real_monotonic, monotonic), (_real_monotonic_ns, monotonic_ns),
        (_real_perf_counter, perf_counter), (_real_perf_counter_ns, perf_counter_ns),
        (_real_allocate_lock, Lock), (_real_lock_attr, Lock), (_real_rlock_factory, RLock),
        (_real_simple_queue, SimpleQueue), (_real_get_ident, get_ident),
    ]
    if _real_get_native_id is not None:
        pairs.append((_real_get_native_id, get_native_id))
    if _real_crlock is not None:
        pairs.append((_real_crlock, RLock))
    return {id(original): replacement for original, replacement in pairs}


def shadowed_types() -> frozenset[type]:
    """The types of the objects :func:`shadow_of` substitutes."""
    return frozenset({REAL_LOCK_TYPE, *REAL_RLOCK_TYPES})


def shadow_of(obj: Any) -> Any:
    """The controlled stand-in, for this execution, of a real lock created outside it."""
    t = type(obj)
    if t is not REAL_LOCK_TYPE and t not in REAL_RLOCK_TYPES:
        return None
    ex = hooks._active
    if ex is None:
        return None
    entry = ex.shadows.get(id(obj))
    if entry is None:
        kind = ControlledLock if t is REAL_LOCK_TYPE else ControlledRLock
        entry = ex.shadows[id(obj)] = (obj, kind(f"{kind.__name__[10:]} created before the execution"))
    return entry[1]
