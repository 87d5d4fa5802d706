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
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import hooks

#: seconds without a scheduling point before the execution is "stuck"
STUCK_AFTER = 10.0
_TICK = 0.05

_interrupt: dict[str, Any] = {"requested": False, "pipe": None, "ours": 0}
_abandoned: list[int] = []  # OS thread idents left blocked in C by a "stuck" execution


def request_interrupt() -> None:
    """Ctrl-C: end the running execution (if any) as "interrupted". Safe in a signal handler."""
    _interrupt["requested"] = True


def interrupt_requested() -> bool:
    return _interrupt["requested"]


def clear_interrupt() -> None:
    _interrupt["requested"] = False
    _interrupt["ours"] = 0


def interrupt_main_thread(ident: int) -> None:
    """Interrupt the main thread's blocking call (EINTR) with a SIGINT that is not the user's."""
    _interrupt["ours"] += 1
    signal.pthread_kill(ident, signal.SIGINT)


def _on_sigint(signum: int, frame: Any) -> None:
    """Python's part of SIGINT, run by the main thread when it next runs Python code (which may be
    much later: it may be parked while another thread runs). Ctrl-C is counted by the watchdog
    thread through the wake-up pipe (:func:`_count_signals`) as soon as the signal arrives."""
    ex = hooks._active
    if ex is not None and ex.aborting and ex.unblock_main:
        from .state import Abort

        raise Abort  # the watchdog interrupting a main thread blocked in C (see Execution._stuck)
    if _interrupt["pipe"] is None:  # no wake-up pipe: count here
        if _interrupt["requested"]:
            raise KeyboardInterrupt  # a second Ctrl-C: the hard way
        request_interrupt()


def _count_signals() -> None:
    """The watchdog's look at the wake-up pipe: a first Ctrl-C ends the running execution cleanly; a
    second one, if that has not happened yet, ends the process."""
    fd = _interrupt["pipe"]
    if fd is None:
        return
    try:
        data = os.read(fd, 64)
    except OSError:
        return
    for number in data:
        if number != signal.SIGINT:
            continue
        if _interrupt["ours"] > 0:
            _interrupt["ours"] -= 1
        elif _interrupt["requested"]:
            os.write(2, b"\ninterlace: interrupted again: exiting now.\n")
            os._exit(130)
        else:
            request_interrupt()


@contextmanager
def interrupts() -> Iterator[None]:
    """While exploring or recording: Ctrl-C ends the running execution cleanly (see
    :func:`request_interrupt`) instead of raising ``KeyboardInterrupt`` wherever the program happens
    to be. Only where Python's own handler is in place (the main thread; not under a handler the
    caller installed). The signal is noticed through a wake-up pipe that the watchdog thread reads,
    since the main thread may be parked while another managed thread runs."""
    clear_interrupt()
    installed = (threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    pipe: tuple[int, int] | None = None
    if installed:
        pipe = os.pipe()
        for fd in pipe:
            os.set_blocking(fd, False)
        previous = signal.set_wakeup_fd(pipe[1], warn_on_full_buffer=False)
        if previous != -1:  # someone else's (an event loop): leave it in place
            signal.set_wakeup_fd(previous)
            os.close(pipe[0])
            os.close(pipe[1])
            pipe = None
        _interrupt["pipe"] = pipe[0] if pipe is not None else None
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if pipe is not None:
                signal.set_wakeup_fd(-1)
                _interrupt["pipe"] = None
                os.close(pipe[0])
                os.close(pipe[1])


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
                _count_signals()
                if ex is None:
                    continue
                if _interrupt["requested"]:
                    # a recorded run hands KeyboardInterrupt to the program (RecordingStrategy)
                    take = getattr(ex.strategy, "take_interrupt", None)
                    if take is None or not take(time.monotonic()):
                        ex.interrupt()
                if self.stuck_after > 0:
                    ex.watch(time.monotonic(), self.stuck_after)
        finally:
            self._done.release()


def exit_if_threads_abandoned(code: int) -> None:
    """A thread stuck in C cannot be stopped, and interpreter shutdown would wait for it forever: the
    report is out, so end the process here (as ``os._exit`` does: no other cleanup can run)."""
    if abandoned():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
