"""Controlled ``Lock`` and ``RLock``: the only primitives interlace implements itself.

Every other primitive of the standard library (``Condition``, ``Semaphore``, ``Event``, ``Barrier``,
``Timer``, ``queue.Queue``, ``concurrent.futures``) is pure Python built on ``Lock``/``RLock`` and the
``_allocate_lock`` waiter locks of ``Condition.wait``. Replacing just these two, and the thread
machinery, puts all of them under the scheduler with their exact standard semantics.

Acquire is a scheduling point; release is recorded but is not one: running another thread just
before a release shows it nothing that running it just after would not (see docs/design.md). From
that point until it holds the lock, the thread's ``pending_lock`` is the lock (the trace names an
acquire only once it happened; systematic strategies need to know it before). A
blocked acquire parks the thread in the scheduler, with its timeout on the virtual clock. Used
from a thread that no execution manages (e.g. after the execution ended), they fall back to a
simple non-blocking behaviour instead of hanging.

What the trace leaves out is told to a strategy that asks for it (a ``hidden_sync(execution, kind, ts, lock)``
method, which DPOR has): ``"acquire"`` of an internal lock (the critical sections of an Event, a
Queue: where their state changes), ``"release"`` of an untracked lock (a ``Condition.wait`` waiter
lock, released by ``notify``) and ``"woken"`` when an acquire of an untracked lock had to wait for
that release (the waiter's wake-up). Only those locks pay for it, and a timed acquire whose timeout
expired (``"expired"``: the virtual clock moves only when no thread can run, so whatever every other
thread did before comes before it).
"""

from __future__ import annotations

import os
from typing import Any

from . import hooks

#: the synchronisation observers are told of an acquire that could not have waited (``blocking=False``,
#: ``timeout=0``): it orders like any acquire, but cannot be part of a deadlock (see detect/lockorder.py)
TRY_ACQUIRE = "try-acquire"


def _managed() -> tuple[Any, Any]:
    ex = hooks._active
    if ex is None:
        return None, None
    return ex, ex.me()


def _check_args(blocking: bool, timeout: float) -> None:
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be a non-negative number")


class ControlledLock:
    """A ``threading.Lock`` whose every acquire and release is decided by the scheduler."""

    __slots__ = ("_owner", "_locked", "label", "tracked", "internal", "ident", "__weakref__")

    def __init__(self, label: str | None = None, tracked: bool = True, internal: bool = False) -> None:
        self._locked = False
        self._owner: Any = None
        self.label = label or _label("Lock")
        self.tracked = tracked  # Condition waiter locks are not "held" in any meaningful sense
        self.internal = internal  # the stdlib's own lock (an Event's, a Queue's): kept out of traces
        self.ident = self.label  # what DPOR calls its hidden events (see patching.internal_ident)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if timeout != -1 or not blocking:
            _check_args(blocking, timeout)
        ex, me = _managed()
        if me is None:
            if self._locked:
                return False
            self._locked = True
            return True
        if self.tracked:
            me.pending_lock = self  # what the scheduling point is for (systematic strategies use it)
            ex.point(me, None, None)
        waited = False
        while self._locked:
            if not blocking or timeout == 0:
                me.pending_lock = None
                return False
            if not ex.block(me, self, None if timeout == -1 else timeout, guard=True):
                me.pending_lock = None
                _tell(ex, "expired", me, self)
                return False
            waited = True
        me.pending_lock = None
        self._locked = True
        self._owner = me
        if self.tracked:
            me.held.append(self)
            if not self.internal:
                if ex.record_trace:
                    ex.note(me, "acquire", self.label, None)
            else:
                _tell(ex, "acquire", me, self)
        elif waited:
            # a timed wait woken by a release could have timed out before it: no edge then
            _tell(ex, "woken" if timeout == -1 else "woken-timed", me, self)
        if ex.observers and self.tracked and not self.internal:
            ex.synced("acquire" if blocking and timeout != 0 else TRY_ACQUIRE, me, self)
        return True

    def release(self) -> None:
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        ex, me = _managed()
        if me is not None:
            if self.tracked and not self.internal:
                if ex.record_trace:
                    ex.note(me, "release", self.label, None)
                if ex.observers:
                    ex.synced("release", me, self)
            if not self.tracked:
                _tell(ex, "release", me, self)
        owner = self._owner
        self._locked = False
        self._owner = None
        if owner is not None and self in owner.held:
            owner.held.remove(self)
        if ex is not None:
            ex.wake_waiters(self)

    def locked(self) -> bool:
        return self._locked

    def _is_owned(self) -> bool:
        # What Condition's fallback (a non-blocking acquire) answers for a plain Lock, minus the
        # two scheduling points it would cost.
        return self._locked

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _at_fork_reinit(self) -> None:
        self._locked = False
        self._owner = None

    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __repr__(self) -> str:
        state = "locked" if self._locked else "unlocked"
        return f"<{state} interlace.{self.label} object at {id(self):#x}>"


class ControlledRLock:
    """A ``threading.RLock``: reentrant, owned, with the hooks ``Condition`` uses."""

    __slots__ = ("_owner", "_count", "label", "internal", "ident", "__weakref__")

    def __init__(self, label: str | None = None, internal: bool = False) -> None:
        self._owner: Any = None
        self._count = 0
        self.label = label or _label("RLock")
        self.internal = internal
        self.ident = self.label

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        _check_args(blocking, timeout)
        ex, me = _managed()
        if me is None:
            if self._count and self._owner is not None:
                return False
            self._count += 1
            return True
        me.pending_lock = self
        ex.point(me, None, None)
        if self._owner is me:
            me.pending_lock = None
            self._count += 1
            self._note(ex, me, "acquire")
            return True
        while self._owner is not None:
            if not blocking or timeout == 0:
                me.pending_lock = None
                return False
            if not ex.block(me, self, None if timeout == -1 else timeout, guard=True):
                me.pending_lock = None
                _tell(ex, "expired", me, self)
                return False
        me.pending_lock = None
        self._owner = me
        self._count = 1
        me.held.append(self)
        self._note(ex, me, "acquire", blocking and timeout != 0)
        return True

    def _note(self, ex: Any, me: Any, kind: str, could_wait: bool = True) -> None:
        if not self.internal:
            ex.note(me, kind, self.label, None)
            if ex.observers:
                ex.synced(kind if could_wait else TRY_ACQUIRE, me, self)
        elif kind == "acquire":
            _tell(ex, "acquire", me, self)

    __enter__ = acquire

    def release(self) -> None:
        ex, me = _managed()
        if me is None:
            if not self._count:
                raise RuntimeError("cannot release un-acquired lock")
            self._count -= 1
            return
        if self._owner is not me:
            raise RuntimeError("cannot release un-acquired lock")
        self._note(ex, me, "release")
        self._count -= 1
        if self._count == 0:
            self._drop(ex, me)

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _drop(self, ex: Any, me: Any) -> None:
        self._owner = None
        if self in me.held:
            me.held.remove(self)
        ex.wake_waiters(self)

    def _is_owned(self) -> bool:
        ex, me = _managed()
        return me is not None and self._owner is me

    def _release_save(self) -> tuple:
        ex, me = _managed()
        if me is None or self._owner is not me:
            raise RuntimeError("cannot release un-acquired lock")
        self._note(ex, me, "release")
        state = (self._count, me)
        self._count = 0
        self._drop(ex, me)
        return state

    def _acquire_restore(self, state: tuple) -> None:
        count, _owner = state
        self.acquire()
        self._count = count

    def _recursion_count(self) -> int:
        ex, me = _managed()
        return self._count if me is not None and self._owner is me else 0

    def _at_fork_reinit(self) -> None:
        self._owner = None
        self._count = 0

    def locked(self) -> bool:
        return self._owner is not None

    def __repr__(self) -> str:
        state = "locked" if self._owner is not None else "unlocked"
        owner = self._owner.name if self._owner is not None else None
        return f"<{state} interlace.{self.label} object owner={owner!r} count={self._count}>"


def _tell(ex: Any, kind: str, me: Any, lock: Any) -> None:
    """A lock operation the trace does not show, for a strategy that models it (DPOR)."""
    seen = ex.hidden_sync
    if seen is not None:
        seen(ex, kind, me, lock)


def _label(kind: str) -> str:
    """``Lock@file.py:12``: where the lock was created in the code under test, when known."""
    ex, me = _managed()
    site = me.site if me is not None else None
    if site is None:
        return kind
    return f"{kind}@{os.path.basename(site[0])}:{site[1]}"
