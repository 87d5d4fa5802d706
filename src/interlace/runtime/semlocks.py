"""``multiprocessing``'s ``Lock``/``RLock``/``Semaphore``/``Event``/``Condition`` between threads of one process.

They are built on ``_multiprocessing.SemLock``, a process-shared semaphore whose ``acquire`` blocks in C.
A managed thread blocked there holds the baton: no other thread of the execution runs, so when the thread
that would release it is one of them (asgiref's ``test_sync_to_async_with_blocker_non_thread_sensitive``:
a ``multiprocessing.Event`` waited for by one thread and set by another) the execution was reported
"stuck". Here a managed thread's acquire first tries without blocking; if the semaphore is taken, the
thread waits for it like a blocking call (:func:`.blocking.wait_until_ready`: a timed wait on the virtual
clock while others run, looking again with ``_is_zero()``, which takes nothing), then takes it. A release
tells the detectors a hand-off to the acquire that follows it (``Semaphore.release`` -> a successful
``acquire``, as for ``threading``'s), so two threads that synchronise through it are ordered, and a lost
update between them guarded by nothing is still found.

This holds only while the process has no child process (``multiprocessing.process._children`` empty):
then only threads of this process can release the semaphore, and when it becomes free depends only on the
schedule. With a child alive, or for an acquire made by the machinery itself (a ``multiprocessing.Queue``'s
``_rlock``), the call keeps the original behaviour (runtime/outside.py): whether another process released
it by the time a thread looks is a wall-clock fact that no decision may depend on.

``multiprocessing.synchronize`` is imported lazily by the program (``multiprocessing.Event()`` imports
it), and importing it at installation is not safe (``RuntimePatches.adopt_machinery``): it is patched at
installation if it is already loaded, and otherwise when the program imports it (a ``sys.meta_path``
finder that wraps its loader), for the rest of the exploration. The class gets data descriptors for
``acquire`` and ``release``, which win over the bound C methods each instance keeps in its ``__dict__``
(``SemLock._make_methods``), so instances made before the exploration are covered too.
"""

from __future__ import annotations

import importlib.machinery
import sys
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

from . import hooks, outside
from .blocking import MISSING, undo, wait_until_ready
from .calls import modelled
from .handoffs import _emit

_MODULE = "multiprocessing.synchronize"
_SYNCHRONIZE_FILE = outside._MULTIPROCESSING + "synchronize.py"
_real_sleep = __import__("time").sleep


def _children() -> bool:
    """Whether this process has started child processes that may still run."""
    process = sys.modules.get("multiprocessing.process")
    return bool(getattr(process, "_children", None))


def _machinery_calls(frame: Any) -> bool:
    """Whether the acquire at ``frame`` (its caller) is the machinery's (a ``multiprocessing.Queue``'s
    lock): the first frame outside ``synchronize.py`` is in ``multiprocessing``'s process machinery."""
    while frame is not None and frame.f_code.co_filename == _SYNCHRONIZE_FILE:
        frame = frame.f_back
    return frame is not None and outside.is_machinery_file(frame.f_code.co_filename)


def _controlled(frame: Any) -> tuple[Any, Any]:
    """The execution and managed thread when the acquire at ``frame`` waits like a blocking call."""
    ex = hooks._active
    me = ex.me() if ex is not None else None
    if me is None or _children() or _machinery_calls(frame):
        return None, None
    return ex, me


def _free(sem: Any) -> Callable[[float], bool]:
    def ready(wait: float) -> bool:
        if not sem._is_zero():
            return True
        if wait > 0:  # (nothing else can run: only another process could release it)
            _real_sleep(wait)
        return not sem._is_zero()
    return ready


def _acquire(self: Any, block: bool = True, timeout: float | None = None) -> bool:
    return _acquiring(self, block, timeout, sys._getframe(1))


class _State:
    """What a strategy that models hidden lock operations (DPOR, ``runtime/locks.py``) is told a
    semaphore is, in its changes and looks and as what an acquire's scheduling point is for
    (``ThreadState.pending_lock``): a location named ``ident``, the same in every execution of the
    exploration (a semaphore made in the execution: its maker's tid and how many it made before; one
    made before: its id, as it is the same object in every execution)."""

    __slots__ = ("label", "ident", "internal")

    def __init__(self, label: str, ident: str) -> None:
        self.label = label
        self.ident = ident
        self.internal = True


#: SemLock -> its :class:`_State`; (execution, {tid: SemLocks it made}) for the identities
_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_made: list[Any] = [None, {}]


def _make_methods(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """``SemLock._make_methods`` (called by ``__init__``): a semaphore a managed thread makes is named."""

    def method(self: Any) -> None:
        original(self)
        ex = hooks._active
        me = ex.me() if ex is not None else None
        if me is not None:
            if _made[0] is not ex:
                _made[0], _made[1] = ex, {}
            n = _made[1][me.tid] = _made[1].get(me.tid, 0) + 1
            _states[self] = _State(f"multiprocessing.{type(self).__name__}", f"SemLock#{me.tid}.{n}")

    method.__wrapped__ = original  # type: ignore[attr-defined]
    return method


def _state(self: Any) -> _State:
    state = _states.get(self)
    if state is None:
        state = _states[self] = _State(f"multiprocessing.{type(self).__name__}", f"SemLock@{id(self):x}")
    return state


def _tell(ex: Any, kind: str, me: Any, self: Any) -> None:
    """Tell DPOR of a change (``write``) or a look (``read``) of the semaphore's value, in the step in
    progress: an acquire's, which begins at its scheduling point, or a release's, which has none of its
    own (a ``with`` block's exit is no call the instrumentation sees)."""
    seen = ex.hidden_sync
    if seen is not None:
        seen(ex, kind, me, _state(self))


def _acquiring(self: Any, block: bool, timeout: float | None, caller: Any) -> bool:
    sem = self._semlock
    ex, me = _controlled(caller)
    if me is None:
        return sem.acquire(block, timeout)
    # a scheduling point of its own (a ``with`` block's acquire is no call the instrumentation sees): the
    # others may take the semaphore first. Before it, the thread's next step is a change or a look of
    # the semaphore's value (``pending_lock``, as before an internal lock of the standard library)
    me.pending_lock = _state(self)
    try:
        ex.point(me, None, None)
    finally:
        me.pending_lock = None
    key = ("semaphore", id(sem))
    if sem.acquire(False):  # (a recursive lock its thread holds, or a free semaphore)
        _tell(ex, "write", me, self)
        _emit("wait", key)
        return True
    _tell(ex, "read", me, self)
    if not block:
        return False
    left = None if timeout is None else max(float(timeout), 0.0)
    label = f"multiprocessing.{type(self).__name__}.acquire"
    while True:
        started = ex.now
        if not wait_until_ready(ex, me, _free(sem), label, left):
            return False
        if sem.acquire(False):
            _tell(ex, "write", me, self)
            _emit("wait", key)
            return True
        _tell(ex, "read", me, self)
        if left is not None:  # taken again before this thread looked (by another process)
            left = max(left - (ex.now - started), 0.0)


def _release(self: Any) -> None:
    sem = self._semlock
    ex = hooks._active
    if ex is not None:
        _emit("signal", ("semaphore", id(sem)))
        me = ex.me()
        if me is not None and not _children():
            sem.release()
            _tell(ex, "write", me, self)
            return
    sem.release()


def _enter(self: Any) -> bool:
    return _acquiring(self, True, None, sys._getframe(1))


def _exit(self: Any, *args: Any) -> None:
    _release(self)


class _Method:
    """A data descriptor for ``acquire``/``release``: wins over the C method an instance keeps in its
    ``__dict__``, and stores what ``_make_methods`` assigns there as before (restored by removing it)."""

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self.name = name
        self.function = function

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return self if obj is None else types.MethodType(self.function, obj)

    def __set__(self, obj: Any, value: Any) -> None:
        vars(obj)[self.name] = value

    def __delete__(self, obj: Any) -> None:
        del vars(obj)[self.name]


#: the methods of ``multiprocessing.synchronize`` that share nothing but semaphores: calls of them are no
#: scheduling points of their own (``calls.modelled``); not ``Semaphore.get_value`` (it reads the value
#: where DPOR is not told) nor ``Barrier``'s (its state is in shared memory)
_SEMAPHORES_ONLY = ("Event.is_set", "Event.set", "Event.clear", "Event.wait", "Condition.__enter__",
                    "Condition.__exit__", "Condition.wait", "Condition.notify", "Condition.notify_all",
                    "Condition.wait_for")


class SemLockPatches:
    """Patches ``multiprocessing.synchronize.SemLock`` for an exploration, now or when it is imported."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, Any]] = []
        self._finder: _AfterImport | None = None

    def install(self) -> SemLockPatches:
        module = sys.modules.get(_MODULE)
        if module is not None:
            self.patch(module)
        # (also when it is loaded: a replay with ``fresh_modules`` may drop it and the program import it again)
        self._finder = _AfterImport(_MODULE, self.patch)
        sys.meta_path.insert(0, self._finder)
        return self

    def patch(self, module: Any) -> None:
        cls = getattr(module, "SemLock", None)
        if not isinstance(cls, type) or any(owner is cls for owner, _, _ in self._saved):
            return
        for name, value in (("acquire", _Method("acquire", _acquire)), ("release", _Method("release", _release)),
                            ("__enter__", _enter), ("__exit__", _exit),
                            ("_make_methods", _make_methods(vars(cls)["_make_methods"]))):
            self._saved.append((cls, name, vars(cls).get(name, MISSING)))
            setattr(cls, name, value)
        for name in _SEMAPHORES_ONLY:
            owner, _, method = name.partition(".")
            function = vars(getattr(module, owner, object)).get(method)
            if isinstance(function, types.FunctionType):
                modelled(function)

    def uninstall(self) -> None:
        if self._finder is not None:
            if self._finder in sys.meta_path:
                sys.meta_path.remove(self._finder)
            self._finder = None
        undo(self._saved)


class _AfterImport:
    """A ``sys.meta_path`` finder that calls ``then(module)`` once the module ``name`` has been executed."""

    def __init__(self, name: str, then: Callable[[Any], None]) -> None:
        self.name = name
        self.then = then
        self._busy = threading.local()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name or getattr(self._busy, "active", False):
            return None
        self._busy.active = True
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        finally:
            self._busy.active = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return None
        then, execute = self.then, loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            then(module)

        loader.exec_module = exec_module
        return spec

    def invalidate_caches(self) -> None:
        pass
