"""Detector-only mode: real, uncontrolled threads at native scheduling, with race detection.

For programs too large to explore. Nothing is scheduled: the instrumented accesses, the locks made
by the code under test, thread start/join and the stdlib hand-offs only feed the detectors (under
one mutex, since threads really run concurrently). What is found depends on how the threads happen
to interleave, like ThreadSanitizer; the happens-before analysis itself does not.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from _thread import _local as _thread_local
from _thread import allocate_lock, get_ident
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from ..detect.lockorder import LockOrderDetector
from ..detect.races import RaceDetector
from ..runtime import handoffs, hooks
from ..runtime.calls import CallClassifier
from ..runtime.execution import Execution, _call_with_arguments
from ..runtime.fastpath import plain_key
from ..runtime.locks import TRY_ACQUIRE
from ..runtime.patching import _internal_owner, _real_allocate_lock, _real_rlock_factory
from ..runtime.state import ThreadState

_real_start = threading.Thread.start
_real_join = threading.Thread.join


class ObservedLock:
    """A real lock that reports acquire/release to the detectors (locks made by the code under test)."""

    __slots__ = ("_lock", "label", "internal", "tracked", "__weakref__")

    def __init__(self, lock: Any, label: str, internal: bool) -> None:
        self._lock = lock
        self.label = label
        self.internal = internal
        self.tracked = True

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got and not self.internal:
            _sync("acquire" if blocking and timeout != 0 else TRY_ACQUIRE, self)
        return got

    def release(self) -> None:
        if not self.internal:
            _sync("release", self)
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __getattr__(self, name: str) -> Any:  # _is_owned, _recursion_count, ... of RLocks
        if name in ("_release_save", "_acquire_restore"):
            method = getattr(self._lock, name)  # AttributeError for a plain Lock, as Condition expects
            return getattr(self, "_observed" + name)(method)
        return getattr(self._lock, name)

    def _observed_release_save(self, method: Callable[[], Any]) -> Callable[[], Any]:
        def release_save() -> Any:
            if not self.internal:
                _sync("release", self)
            return method()

        return release_save

    def _observed_acquire_restore(self, method: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def acquire_restore(state: Any) -> None:
            method(state)
            if not self.internal:
                _sync("acquire", self)

        return acquire_restore


def _sync(kind: str, obj: Any) -> None:
    ex = hooks._active
    if isinstance(ex, NativeExecution):
        me = ex.me()
        if me is not None:
            held = me.held  # the locks the thread holds, innermost last (lock-order inversions)
            if kind == "release":
                for i in range(len(held) - 1, -1, -1):
                    if held[i] is obj:
                        del held[i]
                        break
            else:
                held.append(obj)
            ex.synced(kind, me, obj)


#: at most this many accesses in a Told's set
TOLD_CAP = 4096


class Told:
    """The accesses told to the detectors since another thread's access or any synchronisation
    reached them: telling one again cannot show anything new (FastTrack's same-epoch rule, applied
    before the detectors are called, as a controlled execution does between two switches).

    ``ts``/``ident``: the thread whose accesses were told last (None: nobody since the last
    synchronisation); ``told``: ``(id(obj), key, kind, site) -> a weak reference to obj`` (or obj
    itself when it has none: builtin containers, which the race detector keeps alive too), so that an
    entry whose object died does not stand for a new object with the same id. The native accelerator
    (:mod:`interlace._speedups`) has the same fields in C and skips a told access without calling
    into Python.
    """

    __slots__ = ("ident", "ts", "told")

    def __init__(self) -> None:
        self.ident: int | None = None
        self.ts: ThreadState | None = None
        self.told: dict[tuple, Any] = {}


def _new_told() -> Any:
    from ..runtime.fastpath import native

    speedups = native()
    return Told() if speedups is None else speedups.Told()


class NativeExecution:
    """Stands where an :class:`Execution` stands for the hooks, but only observes."""

    free_threaded = True
    hidden_sync = None  # no strategy: nothing is told what the trace leaves out
    # threads really run at once here, so a read told before it happens may see a write told after it:
    # the reader would miss the edge of what it reads (an object published to it). The hooks that do
    # the read themselves (attribute, subscript, a container's method) read first, then tell; a
    # write is told before it happens, so a read that sees it is told after it
    reads_first = True
    controlled = False  # (see Execution.controlled)
    capture_values = False
    record_trace = False
    aborting = False

    def __init__(self, observers: Sequence[Any], classifier: CallClassifier) -> None:
        self.observers = list(observers)
        self.classifier = classifier
        self.threads: list[ThreadState] = []
        self.by_thread: dict[threading.Thread, ThreadState] = {}
        self._tls = _thread_local()
        self._mutex = allocate_lock()
        # the observers called at every shared access (the lock-order detector only watches locks)
        self.access_observers = [o for o in self.observers if getattr(o, "observes_accesses", True)]
        self.describe = Execution.describe.__get__(self)
        self.told = _new_told()

    def thread_state(self, thread: threading.Thread) -> ThreadState:
        ts = self.by_thread.get(thread)
        if ts is None:
            with self._mutex:
                ts = self.by_thread.get(thread)
                if ts is None:
                    ts = ThreadState(len(self.threads), thread)
                    self.threads.append(ts)
                    self.by_thread[thread] = ts
        return ts

    def me(self) -> ThreadState | None:
        """The calling thread's state, found without ``threading.current_thread()``: that would
        make a dummy Thread for a thread still in its bootstrap (whose Event.set lands here)."""
        ts = getattr(self._tls, "ts", None)
        if ts is not None:
            return ts
        # OS thread ids are reused as soon as a thread ends, so the id alone cannot name a thread:
        # the Thread object registered for it does. A thread still in its bootstrap is in _limbo, and
        # only one this run started counts: threading can leave a stale Thread there (and in _active)
        # under an id that is now this thread's (a thread stopped inside its bootstrap).
        ident = get_ident()
        limbo = list(threading._limbo)  # type: ignore[attr-defined]
        thread = next((t for t in limbo if getattr(t, "_ident", None) == ident and t in self.by_thread), None)
        if thread is None:
            thread = threading._active.get(ident)  # type: ignore[attr-defined]
        if thread is None:
            return None
        ts = self.thread_state(thread)
        ts.ident = ident
        self._tls.ts = ts
        return ts

    # -- the hooks' interface ------------------------------------------------------------------------

    def _teller(self, me: ThreadState) -> None:
        """``me``'s access reaches the detectors (under the mutex): another thread's told ones may
        show something new again."""
        told = self.told
        if told.ts is not me:
            told.told.clear()
            told.ts = me
            told.ident = get_ident()

    def access(self, kind: str, obj: Any, key: Any, site: tuple, value: Any = None) -> None:
        me = self.me()
        if me is None:
            return
        me.site = site
        me.accesses += 1
        with self._mutex:
            self._teller(me)
            told = self.told.told
            if plain_key(key):  # (another key is told every time: holding it could keep it alive)
                k = (id(obj), key, kind, site)
                if told.get(k) is type(obj):  # by id and type: no reference to the object
                    return
                if len(told) >= TOLD_CAP:
                    told.clear()
                told[k] = type(obj)
            for observer in self.access_observers:
                observer.access(self, me, kind, obj, key, site, False)

    def observe(self, value: Any) -> None:
        pass

    def call(self, fn: Any, site: tuple, args: tuple) -> Any:
        me = self.me()
        if me is None:
            return fn
        me.site = site
        me.gil_points += 1
        kind, _what, _replacement, target = self.classifier.classify(fn, args, self)
        if target is not None:
            if kind == hooks.READ:  # told once it happened (see reads_first)
                return partial(_read_then_tell, self, me, fn, target, site)
            with self._mutex:
                self._teller(me)
                for observer in self.access_observers:
                    observer.access(self, me, kind, target[0], target[1], site, target[2])
        return fn

    def callee(self, fn: Any, site: tuple) -> Any:
        if self.classifier.classify_callee(fn)[3]:
            return partial(_call_with_arguments, self, fn, site)
        return fn

    def with_manager(self, manager: Any, site: tuple) -> Any:
        return manager

    def loop(self, site: tuple) -> None:
        me = self.me()
        if me is not None:
            me.gil_points += 1
            me.back_edges += 1

    def loop_entered(self) -> None:
        me = self.me()
        if me is not None:
            me.loop_entry = me.accesses

    def loop_exited(self) -> None:
        me = self.me()
        if me is not None:
            with self._mutex:
                for observer in self.access_observers:
                    exited = getattr(observer, "loop_exit", None)
                    if exited is not None:
                        exited(self, me, me.loop_entry)

    def access_number(self, ts: ThreadState) -> int:
        return ts.accesses

    def back_edge_count(self, ts: ThreadState) -> int:
        return ts.back_edges

    def gil_clock(self, ts: ThreadState) -> int:
        """Points where a GIL could switch, counted per thread (threads here really run at once)."""
        return ts.gil_points

    def synced(self, kind: str, me: ThreadState, obj: Any) -> None:
        with self._mutex:
            told = self.told
            told.told.clear()
            told.ts = told.ident = None
            for observer in self.observers:
                observer.sync(self, kind, me, obj)


def _read_then_tell(ex: NativeExecution, me: ThreadState, fn: Any, target: tuple, site: tuple, /, *args: Any,
                    **kwargs: Any) -> Any:
    """A container method that reads (``d.get(k)``, ``len(lst)``), told to the detectors once it returned
    (or raised: a read of what is not there is a read too)."""
    try:
        return fn(*args, **kwargs)
    finally:
        with ex._mutex:
            ex._teller(me)
            for observer in ex.access_observers:
                observer.access(ex, me, hooks.READ, target[0], target[1], site, target[2])


# -- patches: observed locks, thread start/join, hand-offs ----------------------------------------------


def _lock_factory(real: Callable[..., Any], kind: str) -> Callable[..., Any]:
    def factory(*args: Any, **kwargs: Any) -> Any:
        lock = real(*args, **kwargs)
        if not isinstance(hooks._active, NativeExecution):
            return lock
        owner, internal = _internal_owner(sys._getframe(1))
        frame = sys._getframe(1)
        label = f"{kind}@{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}" if owner is None \
            else f"{owner} {kind.lower()}"
        return ObservedLock(lock, label, internal)

    return factory


def _start(self: threading.Thread) -> None:
    ex = hooks._active
    if isinstance(ex, NativeExecution):
        parent = ex.me()
        if parent is not None:
            ex.synced("start", parent, ex.thread_state(self))
    _real_start(self)


def _join(self: threading.Thread, timeout: float | None = None) -> None:
    _real_join(self, timeout)
    ex = hooks._active
    if isinstance(ex, NativeExecution) and not self.is_alive() and self in ex.by_thread:
        me = ex.me()
        if me is not None:
            ex.synced("join", me, ex.by_thread[self])


class _Patches:
    def __init__(self) -> None:
        self.saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self.saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def install(self) -> None:
        self.set(threading, "Lock", _lock_factory(_real_allocate_lock, "Lock"))
        self.set(threading, "RLock", _lock_factory(_real_rlock_factory, "RLock"))
        self.set(threading.Thread, "start", _start)
        if hasattr(queue, "_PySimpleQueue"):  # its put/get carry the executor's submit -> task edges
            self.set(queue, "SimpleQueue", queue._PySimpleQueue)
        self.set(threading.Thread, "join", _join)
        handoffs.install(self.set)

    def uninstall(self) -> None:
        while self.saved:
            owner, name, value = self.saved.pop()
            setattr(owner, name, value)


def detect(
    fn: Callable[[], Any],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    ignore_races: Sequence[str] | None = None,
) -> Any:
    """Run ``fn`` once with real threads and report the data races and lock-order inversions seen.

    Returns an :class:`interlace.Result` whose ``races``/``lock_inversions`` list what was found;
    ``ok`` is False when ``fn`` raised or anything unsuppressed was found.
    """
    from .. import instrument as inst
    from ..config import load_config
    from ..runtime.state import Failure
    from .result import Result

    if hooks._active is not None:
        raise RuntimeError("interlace cannot run detection inside a controlled execution")
    if ignore_races is None:
        ignore_races = load_config().ignore_races
    selection = inst.Selection(include, exclude)
    uninstrumented = list(inst.reinstrument_loaded(selection, extra=[fn]))
    races = RaceDetector(tuple(ignore_races))
    locks = LockOrderDetector()
    ex = NativeExecution([races, locks], CallClassifier(inst.is_instrumented_code))
    races.begin(ex)
    locks.begin(ex)
    patches = _Patches()
    failure = None
    started = time.perf_counter()
    with inst.instrumenting(selection):
        patches.install()
        hooks.set_active(ex)
        try:
            ex.thread_state(threading.current_thread())  # the calling thread is thread 0
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported as the run's failure
            import traceback

            failure = Failure("exception", f"{type(exc).__name__} in the main function: {exc}",
                              exception=exc, traceback="".join(traceback.format_exception(exc)))
        finally:
            hooks.set_active(None)
            patches.uninstall()
    races.end(ex)
    found = [r for r in races.races if r.fails]  # notes (benign races) are listed, not failures
    if failure is None and (found or locks.inversions):
        first = found[0].summary() if found else locks.inversions[0].summary()
        failure = Failure("race", f"{len(found)} data race(s) and {len(locks.inversions)} lock-order "
                                  f"inversion(s) found; the first: {first}")
    return Result(
        ok=failure is None, executions=1, seed=None, strategy="native", model="native",
        elapsed=time.perf_counter() - started, failure=failure, uninstrumented=uninstrumented,
        threads=[t.name for t in ex.threads], races=list(races.races), lock_inversions=list(locks.inversions),
        suppressed_races=races.suppressed,
    )
