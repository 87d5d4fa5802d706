"""Blocking calls interlace knows, made deterministic: a thread that would block hands the baton over
at that program point, not after a timer noticed it.

``recv``/``recv_into``/``recvfrom``/``recvfrom_into``/``accept`` of a socket, ``os.read``,
``select.select``, the ``select`` of ``selectors``' selectors and ``subprocess.Popen.wait`` first
ask, without blocking, whether the call would return at once (``select`` with a zero timeout,
``Popen.poll``). If it would, it runs (holding the baton, so it returns at once). If not, the thread
waits for readiness *as a timed wait on the virtual clock* (:meth:`Execution.block`): the others
run, and it looks again when no other thread can run (the clock then moves to its deadline), at
deadlines that double from 1 ms to 1 s of virtual time. The data a peer thread sent is in the
kernel when its ``send`` returns, so what the waiting thread sees, and when, depends only on the
schedule: the same seed gives the same execution on an idle and on a loaded machine.

When no other thread can ever run before this call returns (its peer is another process, or nobody),
the thread waits on the wall clock; the watchdog reports it "stuck" after the stuck timeout. A call
interlace does not know blocks with the baton held: the others wait for it, which is slow but changes
nothing they do, and the watchdog reports it if it never returns.

Socket timeouts are virtual seconds while other threads can run; when none can, the call waits for
its peer (another process) on the wall clock up to the timeout, and the virtual clock then moves to
the deadline too.
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import subprocess
from collections.abc import Callable
from typing import Any

from . import hooks
from .calls import schedule_like
from .state import BLOCKED, RUNNABLE, Abort

_real_select = select.select
_real_read = os.read
_real_monotonic = __import__("time").monotonic
_real_sleep = __import__("time").sleep
_S = socket.socket

_POLL_FIRST = 0.001  # virtual seconds between two looks at a call that is not ready
_POLL_MAX = 1.0
_TICK = 0.05  # wall-clock seconds between two looks when nothing else can run
_EPSILON = 1e-9  # virtual seconds: a timeout this close to its deadline has expired (float sums)


class IOWait:
    """What a thread waiting for a blocking call is blocked on (reports show its label)."""

    __slots__ = ("label", "ready")

    def __init__(self, label: str, ready: Callable[[float], bool]) -> None:
        self.label = label
        self.ready = ready

    def __str__(self) -> str:
        return self.label


def _others_can_run(ex: Any, me: Any) -> bool:
    for t in ex.threads:
        if t is me:
            continue
        if t.status == RUNNABLE:
            return True
        if t.status == BLOCKED:
            waiting = t.waiting
            if isinstance(waiting, IOWait):
                if waiting.ready(0.0) or t.io_deadline - ex.now < _EPSILON:  # ready, or its timeout expired
                    return True
            elif t.deadline is not None:
                return True
    return False


def _soonest_other_timeout(ex: Any, me: Any) -> float | None:
    """The earliest timeout among the other threads waiting in blocking calls (None: none has one)."""
    deadlines = [t.io_deadline for t in ex.threads
                 if t is not me and t.status == BLOCKED and isinstance(t.waiting, IOWait)]
    soonest = min(deadlines, default=float("inf"))
    return None if soonest == float("inf") else soonest


def wait_until_ready(ex: Any, me: Any, ready: Callable[[float], bool], label: str,
                     timeout: float | None = None) -> bool:
    """Block ``me`` until ``ready(0)`` (True) or until ``timeout`` seconds pass (False)."""
    if ready(0.0):
        return True
    if timeout is not None and timeout <= 0:
        return False
    waiting = IOWait(label, ready)
    deadline = None if timeout is None else ex.now + timeout
    # while it waits, no sleeper is woken early (see Execution._schedule): time moves in deadline order
    me.io_deadline = deadline if deadline is not None else float("inf")
    try:
        return _wait(ex, me, ready, waiting, deadline)
    finally:
        me.io_deadline = None


def _wait(ex: Any, me: Any, ready: Callable[[float], bool], waiting: IOWait, deadline: float | None) -> bool:
    poll = _POLL_FIRST
    while True:
        if _others_can_run(ex, me):
            ex.block(me, waiting, poll if deadline is None else min(poll, deadline - ex.now), early=False)
            poll = min(poll * 2, _POLL_MAX)
            if ready(0.0):
                return True
            if deadline is not None and deadline - ex.now < _EPSILON:
                return False
            continue
        # nothing else can run before this call returns (or before the soonest timeout of another blocking
        # call, whose thread then runs): wait for it on the wall clock
        other = _soonest_other_timeout(ex, me)
        mine = other is None or deadline is not None and deadline <= other
        until = deadline if mine else other
        wall_deadline = None if until is None else _real_monotonic() + max(until - ex.now, 0.0)
        while True:
            if ready(_TICK):
                return True
            if ex.aborting:  # the watchdog reported it stuck, or Ctrl-C
                raise Abort
            if wall_deadline is not None and _real_monotonic() >= wall_deadline:
                ex.now = max(ex.now, until)  # the time the call waited, on the virtual clock too
                if mine:
                    return False
                break  # the other call's timeout expired: that thread can run
            if _others_can_run(ex, me):  # another waiting thread's call became ready
                break


def _caller() -> tuple[Any, Any]:
    ex = hooks._active
    if ex is None:
        return None, None
    return ex, ex.me()


def _readable(fd: Any) -> Callable[[float], bool]:
    def ready(wait: float) -> bool:
        try:
            return bool(_real_select([fd], [], [], wait)[0])
        except (OSError, ValueError, TypeError):
            return True  # closed or not selectable: the real call says what happens
    return ready


def _socket_reader(name: str, original: Callable) -> Callable:
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        ex, me = _caller()
        if me is not None:
            timeout = _S.gettimeout(self)
            if timeout != 0.0 and not wait_until_ready(ex, me, _readable(self),
                                                       f"{name} on socket {_S.fileno(self)}", timeout):
                raise TimeoutError("timed out")
        return original(self, *args, **kwargs)
    patched.__name__ = original.__name__
    patched.__qualname__ = original.__qualname__
    patched.__doc__ = original.__doc__
    return patched


def _read(fd: int, n: int) -> bytes:
    ex, me = _caller()
    if me is not None:
        wait_until_ready(ex, me, _readable(fd), f"os.read of fd {fd}")
    return _real_read(fd, n)


def _select(rlist: Any, wlist: Any, xlist: Any, timeout: float | None = None) -> Any:
    ex, me = _caller()
    if me is None:
        return _real_select(rlist, wlist, xlist, timeout)
    lists = (list(rlist), list(wlist), list(xlist))

    def ready(wait: float) -> bool:
        try:
            return any(_real_select(*lists, wait))
        except (OSError, ValueError, TypeError):
            return True

    wait_until_ready(ex, me, ready, "select.select", timeout)
    return _real_select(*lists, 0)


def _selector_select(original: Callable) -> Callable:
    """``select`` of a ``selectors`` selector (``socketserver.serve_forever`` polls with one): a probe
    with a zero timeout returns the ready events, so waiting is the same as for the calls above."""
    def select_(self: Any, timeout: float | None = None) -> Any:
        ex, me = _caller()
        if me is None:
            return original(self, timeout)
        found: list = [[]]

        def ready(wait: float) -> bool:
            found[0] = original(self, wait)
            return bool(found[0])

        seconds = None if timeout is None else max(float(timeout), 0.0)
        if wait_until_ready(ex, me, ready, f"{type(self).__name__}.select", seconds):
            return found[0]
        return []
    select_.__name__ = original.__name__
    select_.__qualname__ = original.__qualname__
    select_.__doc__ = original.__doc__
    return select_


_real_popen_wait = subprocess.Popen.wait


def _popen_wait(self: Any, timeout: float | None = None) -> int:
    ex, me = _caller()
    if me is not None and self.returncode is None:
        def ended(wait: float) -> bool:
            if self.poll() is not None:
                return True
            if wait > 0:
                _real_sleep(wait)
            return self.poll() is not None

        if not wait_until_ready(ex, me, ended, f"wait for process {self.pid}", timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
    return _real_popen_wait(self, timeout)


class BlockingCalls:
    """Installs the patches above for an exploration (managed threads only; others get the originals)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def _set(self, owner: Any, name: str, value: Any, module: str) -> None:
        self._saved.append((owner, name, owner.__dict__.get(name, MISSING) if isinstance(owner, type)
                            else getattr(owner, name)))
        schedule_like(value, module)  # a call of it is a scheduling point, like one of the original
        setattr(owner, name, value)

    def install(self) -> BlockingCalls:
        for name in ("recv", "recv_into", "recvfrom", "recvfrom_into"):
            self._set(_S, name, _socket_reader(name, getattr(_S, name)), "socket")
        self._set(_S, "accept", _socket_reader("accept", _S.accept), "socket")
        self._set(os, "read", _read, "os")
        self._set(select, "select", _select, "select")
        self._set(subprocess.Popen, "wait", _popen_wait, "subprocess")
        for name in ("SelectSelector", "PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector"):
            cls = getattr(selectors, name, None)
            if cls is not None:
                self._set(cls, "select", _selector_select(cls.select), "selectors")
        return self

    def uninstall(self) -> None:
        undo(self._saved)


#: what an attribute was before a patch when the owner had none of its own (``undo`` deletes it)
MISSING: Any = object()


def undo(saved: list[tuple[Any, str, Any]]) -> None:
    """Put back, last first, the ``(owner, name, value before)`` of the patches in ``saved`` (emptied)."""
    while saved:
        owner, name, value = saved.pop()
        if value is MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, value)
