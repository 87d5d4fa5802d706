"""Happens-before edges of the standard library's hand-offs, for detectors.

The stdlib's composite primitives keep private locks (a Queue's mutex, an Event's condition). Taken
as plain lock edges, they would order *everything* two threads did around any use of the same
queue, hiding real races: two consumers that happen to take turns on a queue are not synchronised
with each other. So those locks give no edges (they are *internal*, see patching.py) and the
hand-offs themselves do, as the issue of each primitive defines them:

- ``Queue.put(item)`` -> the ``get`` that returns that item (also ``SimpleQueue``, ``LifoQueue``,
  ``PriorityQueue``; ``task_done`` -> ``join``);
- ``Event.set`` -> a ``wait``/``is_set`` that returns True;
- ``Semaphore.release`` -> an ``acquire`` that succeeds;
- ``Barrier.wait`` of every party -> the return of every party's ``wait``;
- ``Future.set_result``/``set_exception`` -> ``result``/``exception`` that observes it.

Each is a pair of ``signal(key)`` / ``wait(key)`` sync events sent to the execution's observers.

Reads of a primitive's state that take no lock (``Event.is_set``, ``Barrier.n_waiting`` and
``Barrier.broken``) leave nothing in the trace, yet their result depends on where they fall among the
critical sections that change that state: they are told to a strategy that models those critical
sections (``hidden_sync(execution, "read", ts, lock)``, see ``runtime/locks.py``) as a read of the
state behind ``lock``. Only such a strategy (DPOR) pays for more than one attribute lookup.
"""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import hooks
from .fastpath import native


def _emit(kind: str, key: tuple) -> None:
    ex = hooks._active
    if ex is None or not ex.observers:
        return
    me = ex.me()
    if me is not None:
        ex.synced(kind, me, key)


if (_native := native()) is not None:
    _emit = _native.handoff  # noqa: F811 - the same in C, with Execution.edge (synced in C) when it has one


def _self_only(original: Callable, method: Callable, alone: Callable) -> Callable:
    """``alone`` (a wrapper of ``self`` only, with ``original``'s names) when ``original`` is a plain
    function of ``self`` alone, else ``method`` (of ``*args, **kwargs``); either with ``__wrapped__``.
    A wrapper's ``*args, **kwargs`` cost more than the call they wrap: asyncio's ``Future.done``,
    ``Queue.get_nowait``, ``Lock.acquire`` and ``release`` run a few times at every task step (7 M
    instructions of a 59 M execution of bench/bench_asyncio.py went to the wrappers)."""
    code = getattr(original, "__code__", None)
    if (code is not None and code.co_argcount == 1 and code.co_varnames[:1] == ("self",)
            and not code.co_posonlyargcount and not code.co_kwonlyargcount
            and not code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)):
        # (the same names: a call with the wrong arguments says what the original would)
        alone.__name__, alone.__qualname__ = original.__name__, original.__qualname__
        method = alone
    method.__wrapped__ = original  # type: ignore[attr-defined]
    return method


def _signal_before(key: Callable[..., tuple]) -> Callable[[Callable], Callable]:
    def wrap(original: Callable) -> Callable:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            if (ex := hooks._active) is not None and ex.observers:  # told to anyone? (else no key is made)
                _emit("signal", key(self, *args, **kwargs))
            return original(self, *args, **kwargs)

        def alone(self: Any) -> Any:
            if (ex := hooks._active) is not None and ex.observers:
                _emit("signal", key(self))
            return original(self)

        return _self_only(original, method, alone)

    return wrap


def _wait_after_await(key: Callable[..., tuple]) -> Callable[[Callable], Callable]:
    """``_wait_after`` for a coroutine method (``asyncio.Lock.acquire``): the wait is where it returns."""
    def wrap(original: Callable) -> Callable:
        async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            result = await original(self, *args, **kwargs)
            if (ex := hooks._active) is not None and ex.observers:
                _emit("wait", key(self))
            return result

        async def alone(self: Any) -> Any:
            result = await original(self)
            if (ex := hooks._active) is not None and ex.observers:
                _emit("wait", key(self))
            return result

        return _self_only(original, method, alone)

    return wrap


def _wait_after(key: Callable[..., tuple | None], only_if_true: bool = False,
                always: bool = False) -> Callable[[Callable], Callable]:
    def waited(obj: Any, result: Any) -> None:
        k = key(obj, result)
        if k is not None:
            _emit("wait", k)

    def wrap(original: Callable) -> Callable:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                result = original(self, *args, **kwargs)
            except BaseException:
                if always and (ex := hooks._active) is not None and ex.observers:
                    waited(self, None)
                raise
            if (not only_if_true or result) and (ex := hooks._active) is not None and ex.observers:
                waited(self, result)
            return result

        def alone(self: Any) -> Any:
            try:
                result = original(self)
            except BaseException:
                if always and (ex := hooks._active) is not None and ex.observers:
                    waited(self, None)
                raise
            if (not only_if_true or result) and (ex := hooks._active) is not None and ex.observers:
                waited(self, result)
            return result

        return _self_only(original, method, alone)

    return wrap


def _peek(lock_of: Callable[[Any], Any]) -> Callable[[Callable], Callable]:
    """A read of the primitive's state without its lock (``lock_of(obj)``, the primitive's internal
    lock): told to a strategy that asks (DPOR), so that it orders the read against the critical
    sections that write that state.

    It is no scheduling point: it belongs to the step in progress, which began at its thread's last
    one. But a thread's first step begins in its start's handshake, where its starter cannot run yet:
    a read made before the thread's first point of its own (``while not stop.is_set():``, ``stop`` an
    argument) could never come after what the starter does once ``start()`` returns (``stop.set()``),
    and that order went unexplored. That read is a scheduling point (see ``ThreadState.entered_at``)."""

    def wrap(original: Callable) -> Callable:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            ex = hooks._active
            me = ex.me() if ex is not None else None
            if me is not None:
                first = me.entered_at >= 0 and me.entered_at == ex.fast.step  # (-1: detect-only)
                seen = ex.hidden_sync
                if first or seen is not None:
                    lock = lock_of(self)
                    if getattr(lock, "internal", False):
                        if first:
                            me.pending_lock = lock  # (the step the point begins reads its state)
                            try:
                                ex.point(me, None, None)
                            finally:
                                me.pending_lock = None
                        if seen is not None:
                            seen(ex, "read", me, lock)
            return original(self, *args, **kwargs)

        method.__wrapped__ = original  # type: ignore[attr-defined]
        return method

    return wrap


def _cond_lock(obj: Any) -> Any:
    """The internal lock of an Event's or a Barrier's condition (None if it has none)."""
    return getattr(getattr(obj, "_cond", None), "_lock", None)


def _peek_property(prop: property) -> property:
    """A property of a primitive that reads its state without its lock, with :func:`_peek` around."""
    return property(_peek(_cond_lock)(prop.fget), doc=prop.__doc__)


def _item_key(q: Any, item: Any, *rest: Any, **kw: Any) -> tuple:
    return ("queue", id(q), id(item))


def _got_key(q: Any, item: Any) -> tuple:
    return ("queue", id(q), id(item))


def _obj_key(name: str) -> Callable[..., tuple]:
    return lambda obj, *rest, **kw: (name, id(obj))


def _wrappers() -> list[tuple[Any, str, Callable[[Callable], Callable]]]:
    simple = getattr(queue, "_PySimpleQueue", None)
    pairs: list[tuple[Any, str, Callable[[Callable], Callable]]] = [
        (queue.Queue, "put", _signal_before(_item_key)),
        (queue.Queue, "get", _wait_after(_got_key)),
        (queue.Queue, "task_done", _signal_before(_obj_key("queue-join"))),
        (queue.Queue, "join", _wait_after(lambda q, r: ("queue-join", id(q)))),
        (threading.Event, "set", _signal_before(_obj_key("event"))),
        (threading.Event, "wait", _wait_after(lambda e, r: ("event", id(e)), only_if_true=True)),
        (threading.Event, "is_set", lambda original: _peek(_cond_lock)(
            _wait_after(lambda e, r: ("event", id(e)), only_if_true=True)(original))),
        (threading.Barrier, "n_waiting", _peek_property),
        (threading.Barrier, "broken", _peek_property),
        (threading.Semaphore, "release", _signal_before(_obj_key("semaphore"))),
        (threading.BoundedSemaphore, "release", _signal_before(_obj_key("semaphore"))),
        (threading.Semaphore, "acquire", _wait_after(lambda s, r: ("semaphore", id(s)), only_if_true=True)),
        (threading.Semaphore, "__enter__", _wait_after(lambda s, r: ("semaphore", id(s)), only_if_true=True)),
        (threading.Barrier, "wait", lambda original: _wait_after(lambda b, r: ("barrier", id(b)), always=True)(
            _signal_before(_obj_key("barrier"))(original))),
        (Future, "set_result", _signal_before(_obj_key("future"))),
        (Future, "set_exception", _signal_before(_obj_key("future"))),
        (Future, "result", _wait_after(lambda f, r: ("future", id(f)), always=True)),
        (Future, "exception", _wait_after(lambda f, r: ("future", id(f)), always=True)),
    ]
    if simple is not None:
        pairs += [(simple, "put", _signal_before(_item_key)), (simple, "get", _wait_after(_got_key))]
    return pairs


def asyncio_wrappers() -> list[tuple[Any, str, Callable[[Callable], Callable]]]:
    """The same hand-offs for asyncio's primitives (an uncontended ``Lock.acquire`` or a ``get`` of a
    queue with items wakes no future, so the event loop's callback edges alone miss them), and a
    task's end -> ``result``/``exception``/``done`` of it (``gather`` of tasks already done)."""
    import asyncio
    from asyncio import futures

    def key(name: str) -> Callable[..., tuple]:
        return lambda obj, *rest, **kw: (name, id(obj))

    return [
        (asyncio.Lock, "release", _signal_before(key("lock"))),
        (asyncio.Lock, "acquire", _wait_after_await(key("lock"))),
        (asyncio.Semaphore, "release", _signal_before(key("semaphore"))),
        (asyncio.BoundedSemaphore, "release", _signal_before(key("semaphore"))),
        (asyncio.Semaphore, "acquire", _wait_after_await(key("semaphore"))),
        (asyncio.Event, "set", _signal_before(key("event"))),
        (asyncio.Event, "wait", _wait_after_await(key("event"))),
        (asyncio.Event, "is_set", _wait_after(lambda e, r: ("event", id(e)), only_if_true=True)),
        (asyncio.Queue, "put_nowait", _signal_before(_item_key)),
        (asyncio.Queue, "get_nowait", _wait_after(_got_key)),
        (asyncio.Queue, "task_done", _signal_before(key("queue-join"))),
        (asyncio.Queue, "join", _wait_after_await(key("queue-join"))),
        # the base of the pure-Python tasks that the controlled loop makes (see eventloop.py)
        (futures._PyFuture, "result", _wait_after(lambda t, r: ("task", id(t)), always=True)),
        (futures._PyFuture, "exception", _wait_after(lambda t, r: ("task", id(t)), always=True)),
        (futures._PyFuture, "done", _wait_after(lambda t, r: ("task", id(t)), only_if_true=True)),
    ]


def task_ended(task: Any) -> None:
    """The signal that :func:`asyncio_wrappers`' waits on a task match (its last step just ran)."""
    _emit("signal", ("task", id(task)))


def copy_wrappers(klass: type) -> list[tuple[str, Callable[[Callable], Callable]]]:
    """The wrappers for ``klass`` when it is a *copy* of a class they wrap: the same class of a
    module imported afresh (``import_fresh_module("queue")`` makes a second ``queue.Queue``), whose
    hand-offs are the original's. Empty for any other class (the originals included)."""
    found = []
    for owner, name, wrap in _wrappers():
        if owner is not klass and owner.__qualname__ == klass.__qualname__ \
                and owner.__module__ == klass.__module__ and name in vars(klass):
            found.append((name, wrap))
    return found


def install(set_attr: Callable[[Any, str, Any], None]) -> None:
    """Install the wrappers with ``set_attr(owner, name, value)`` (which remembers the original)."""
    for owner, name, wrap in _wrappers() + asyncio_wrappers():
        original = owner.__dict__.get(name)
        if original is not None:
            set_attr(owner, name, wrap(original))


class HandoffLog:
    """An execution observer that notes where each hand-off happened in the trace, for the report's
    arrows (put -> the get that received the item, set -> a wait that saw it, ...).

    The trace itself has no hand-off events (strategies and reports read it as a list of scheduling
    points), so the log keeps trace positions: a signal stands at the last step its thread took
    before it (the ``put`` call), a wait at the first step its thread takes after it.
    """

    observes_accesses = False  # hand-offs only

    def __init__(self) -> None:
        self.signals: dict[tuple, list[tuple[int, int]]] = {}
        self.waits: list[tuple[tuple, int, int]] = []

    def begin(self, ex: Any) -> None:
        self.signals, self.waits = {}, []

    def end(self, ex: Any) -> None:
        pass

    def access(self, *args: Any) -> None:
        pass

    def sync(self, ex: Any, kind: str, ts: Any, obj: Any) -> None:
        if kind == "signal":
            self.signals.setdefault(obj, []).append((ts.tid, len(ex.trace)))
        elif kind == "wait":
            self.waits.append((obj, ts.tid, len(ex.trace)))

    def edges(self, trace: list) -> list[tuple[int, int, str]]:
        """``(from event index, to event index, what)`` for each hand-off between two threads.

        A queue's get receives the oldest item put with that identity and not taken yet; a barrier's
        wait is released by every other party; any other wait by the latest signal before it.
        """
        out: dict[tuple[int, int], str] = {}
        taken: dict[tuple, int] = {}
        for key, tid, pos in self.waits:
            if key[0] == "asyncio callback":
                continue  # every step of an asyncio task has one: an arrow would say nothing
            signals = [(stid, spos) for stid, spos in self.signals.get(key, ()) if spos <= pos]
            if key[0] == "queue":
                n = taken.get(key, 0)
                taken[key] = n + 1
                sources = signals[n:n + 1]
            elif key[0] == "barrier":
                sources = list({stid: (stid, spos) for stid, spos in signals}.values())
            else:
                sources = signals[-1:]
            after = next((e for e in trace[pos:] if e.tid == tid), None)
            for stid, spos in sources:
                before = next((e for e in reversed(trace[:spos]) if e.tid == stid), None)
                if after is not None and before is not None and stid != tid and before.index < after.index:
                    out.setdefault((before.index, after.index), key[0])
        return [(a, b, what) for (a, b), what in sorted(out.items())]
