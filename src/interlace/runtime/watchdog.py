"""A background thread that only *reports*: it never changes what the threads of an execution do.

Two things need a clock that the virtual one cannot give:

- a thread that has not reached a scheduling point for ``stuck_after`` wall-clock seconds is blocked
  (or computing) in code interlace cannot see -- a socket, a pipe, a subprocess, a C extension, a
  lock created by uninstrumented code -- and the others cannot run until it returns: the execution
  ends with a "stuck" report that shows where it is (:meth:`Execution.watch`), and the thread, if it
  never returns, is abandoned (:func:`abandoned`) so that the process can still end;
- Ctrl-C during an exploration (:func:`request_interrupt`): the running execution ends as
  "interrupted" instead of the program seeing a ``KeyboardInterrupt`` wherever the signal fell.

Scheduling decisions never depend on the clock: a thread that is merely slow keeps the baton, and a
blocking call interlace knows (``recv``, ``accept``, ``os.read``, ``select``, ``Popen.wait``) hands it
over at a program point (:mod:`.blocking`), not after a timeout.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import hooks

#: seconds without a scheduling point before the execution is "stuck"
STUCK_AFTER = 10.0
_TICK = 0.05

_interrupt = {"requested": False}
_abandoned: list[int] = []  # OS thread idents left blocked in C by a "stuck" execution


def request_interrupt() -> None:
    """Ctrl-C: end the running execution (if any) as "interrupted". Safe in a signal handler."""
    _interrupt["requested"] = True


def interrupt_requested() -> bool:
    return _interrupt["requested"]


def clear_interrupt() -> None:
    _interrupt["requested"] = False


def _on_sigint(signum: int, frame: Any) -> None:
    ex = hooks._active
    if ex is not None and ex.aborting and ex.failure is not None and ex.failure.kind == "stuck":
        from .state import Abort

        raise Abort  # the watchdog interrupting a main thread stuck in C (see Execution._stuck)
    if _interrupt["requested"]:
        raise KeyboardInterrupt  # a second Ctrl-C: the hard way
    request_interrupt()


@contextmanager
def interrupts() -> Iterator[None]:
    """While exploring: Ctrl-C ends the running execution cleanly (see :func:`request_interrupt`)
    instead of raising ``KeyboardInterrupt`` wherever the program happens to be. Only where Python's
    own handler is in place (the main thread; not under a handler the caller installed)."""
    clear_interrupt()
    installed = (threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    if installed:
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def abandon(ident: int) -> None:
    """``ident`` stays blocked in C after its execution ended: the process must not wait for it."""
    _abandoned.append(ident)


def abandoned() -> int:
    """How many OS threads a stuck execution left behind (still blocked, if they never returned).

    The command line ends the process with ``os._exit`` when there are any, since interpreter
    shutdown would wait for them forever."""
    return len(_abandoned)


class Watchdog:
    def __init__(self, stuck_after: float = STUCK_AFTER) -> None:
        self.stuck_after = stuck_after
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()

    def start(self) -> Watchdog:
        _thread.start_new_thread(self._loop, ())
        return self

    def stop(self) -> None:
        self._stop.release()
        self._done.acquire(True, 5)

    def _loop(self) -> None:
        try:
            while not self._stop.acquire(True, _TICK):
                ex = hooks._active
                if ex is None:
                    continue
                if _interrupt["requested"]:
                    ex.interrupt()
                elif self.stuck_after > 0:
                    ex.watch(time.monotonic(), self.stuck_after)
        finally:
            self._done.release()
