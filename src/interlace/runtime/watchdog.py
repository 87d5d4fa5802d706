"""A background thread that only *reports*: it never changes what the threads of an execution do.

Two things need a clock that the virtual one cannot give:

- a thread that has not reached a scheduling point for ``stuck_after`` wall-clock seconds is blocked
  (or computing) in code interlace cannot see -- a socket, a pipe, a subprocess, a C extension, a
  lock created by uninstrumented code -- and the others cannot run until it returns: the execution
  ends with a "stuck" report that shows where it is (:meth:`Execution.watch`), and the thread, if it
  never returns, is abandoned (:func:`abandoned`) so that the process can still end;
- Ctrl-C during an exploration (:func:`request_interrupt`): the running execution ends as
  "interrupted" instead of the program seeing a ``KeyboardInterrupt`` wherever the signal fell; and so
  does a SIGALRM whose handler would raise (pytest-timeout's "signal" method): see :func:`interrupts`.

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

#: signals whose Python handler waits, while an exploration runs, until its running execution has ended
#: (see :func:`interrupts`): pytest-timeout's "signal" method fails the test from a SIGALRM handler
DEFERRED = tuple(getattr(signal, name) for name in ("SIGALRM",) if hasattr(signal, name))
CTRL_C = "the user (Ctrl-C)"

_interrupt: dict[str, Any] = {"requested": False, "pipe": None, "ours": 0, "reason": CTRL_C,
                              "sigint": False, "deferred": {}, "arrived": []}
_abandoned: list[int] = []  # OS thread idents left blocked in C by a "stuck" execution


def request_interrupt(reason: str = CTRL_C) -> None:
    """Ctrl-C: end the running execution (if any) as "interrupted by ``reason``". Safe in a signal
    handler."""
    if not _interrupt["requested"]:
        _interrupt["reason"] = reason
    _interrupt["requested"] = True


def interrupt_requested() -> bool:
    return _interrupt["requested"]


def interrupt_reason() -> str:
    """Who asked for the interrupt: the user (Ctrl-C) or a deferred signal (a timeout)."""
    return _interrupt["reason"]


def clear_interrupt() -> None:
    _interrupt["requested"] = False
    _interrupt["ours"] = 0
    _interrupt["reason"] = CTRL_C
    _interrupt["arrived"] = []


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
        if number in _interrupt["deferred"]:
            _deferred_arrived(number)  # (the main thread runs its Python handler only when it next runs)
            continue
        if number != signal.SIGINT or not _interrupt["sigint"]:
            continue
        if _interrupt["ours"] > 0:
            _interrupt["ours"] -= 1
        elif _interrupt["requested"] and _interrupt["reason"] == CTRL_C:
            os.write(2, b"\ninterlace: interrupted again: exiting now.\n")
            os._exit(130)
        else:
            request_interrupt()


def _on_deferred(signum: int, frame: Any) -> None:
    """Stands for the handler of a deferred signal while an exploration runs: only asks for the end of
    the running execution (see :func:`interrupts`)."""
    _deferred_arrived(signum)


def _deferred_arrived(signum: int) -> None:
    if signum not in _interrupt["arrived"]:
        _interrupt["arrived"].append(signum)
        request_interrupt(f"{signal.Signals(signum).name} (a timeout: pytest-timeout's, or an alarm)")


class Interruptions:
    """What :func:`interrupts` yields: the driver says here where it was when an interrupt stopped it,
    for the note added to a deferred signal's exception."""

    def __init__(self) -> None:
        self.where = "between two executions"


def annotate(exc: BaseException, note: str) -> None:
    """``exc.add_note(note)``, also on Python 3.10 (where only the attribute is set)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


#: the first words of the note :func:`interrupts` adds to a deferred handler's exception
NOTE_PREFIX = "interlace: "


def deferred_note(exc: BaseException) -> str | None:
    """The note :func:`interrupts` added to ``exc``, raised by a deferred signal's handler, if any."""
    notes = [n for n in getattr(exc, "__notes__", ()) if isinstance(n, str) and n.startswith(NOTE_PREFIX)
             and " came during " in n]
    return notes[-1] if notes else None


def _defer_signals() -> dict[int, Any]:
    """Install :func:`_on_deferred` for each signal of DEFERRED that has a Python handler; returns the
    handlers replaced. Such a handler runs in the main thread wherever it is, which under an execution
    is parked on its gate while another thread holds the baton, or inside the scheduler: pytest-timeout's
    ``pytest.fail`` raised there went on in the main thread next to the baton holder, and a
    ``self.subTest`` around it caught it, so the test ran on (readerwriterlock's 30 s stress test for
    hours instead of failing at its timeout)."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for number in DEFERRED:
            handler = signal.getsignal(number)
            if callable(handler) and handler is not _on_deferred:
                saved[number] = handler
                signal.signal(number, _on_deferred)
    _interrupt["deferred"] = saved
    return saved


def _run_deferred(saved: dict[int, Any], where: str) -> None:
    """Put the deferred handlers back; call those whose signal came, the execution running then having
    ended (its threads unwound): their exception (pytest-timeout's failure) gets a note saying where."""
    _interrupt["deferred"] = {}
    for number, handler in saved.items():
        if signal.getsignal(number) is _on_deferred:  # (unless the program installed its own since)
            signal.signal(number, handler)
    for number in dict.fromkeys(_interrupt["arrived"]):  # (the watchdog and the main thread may both note it)
        handler = saved.get(number)
        if handler is None:
            continue
        try:
            handler(number, sys._getframe())
        except BaseException as exc:
            annotate(exc, f"{NOTE_PREFIX}{signal.Signals(number).name} came during {where}. Its handler ran "
                          "once the execution running then had stopped (all its threads unwound).")
            raise


@contextmanager
def interrupts() -> Iterator[Interruptions]:
    """While exploring or recording: Ctrl-C ends the running execution cleanly (see
    :func:`request_interrupt`) instead of raising ``KeyboardInterrupt`` wherever the program happens
    to be. Only where Python's own handler is in place (the main thread; not under a handler the
    caller installed). The signal is noticed through a wake-up pipe that the watchdog thread reads,
    since the main thread may be parked while another managed thread runs.

    A signal of DEFERRED (SIGALRM) with a Python handler ends the running execution the same way, and
    its handler runs when this context exits (see :func:`_defer_signals`)."""
    clear_interrupt()
    where = Interruptions()
    saved = _defer_signals()
    installed = (threading.current_thread() is threading.main_thread()
                 and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
    _interrupt["sigint"] = installed
    pipe: tuple[int, int] | None = None
    if installed or saved:
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
    if installed:
        signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield where
    finally:
        if installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if pipe is not None:
            signal.set_wakeup_fd(-1)
            _interrupt["pipe"] = None
            os.close(pipe[0])
            os.close(pipe[1])
        _run_deferred(saved, where.where)


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
                        ex.interrupt(interrupt_reason())
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
