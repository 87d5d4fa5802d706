"""Recorded nondeterminism: every input a program observes, recorded in ``run``, served in ``replay``.

One module per kind of input (:mod:`.clocks`, :mod:`.randomness`, :mod:`.stdin`, :mod:`.sockets`,
:mod:`.processes`, :mod:`.files`, :mod:`.environment`). Each installs patches that, in a managed thread
of the active execution, go through the :class:`Channel`:

- when recording, the real function runs and its result (or exception) is written to the recording
  as an input of the calling thread;
- when replaying, the next input of the calling thread is taken from the recording, its kind is
  checked (a different kind means the program diverged), and the recorded result is returned (or the
  recorded exception raised). Nothing real happens: no peer, process or terminal is needed.

Calls from threads the execution does not manage get the original behaviour, unrecorded.

Blocking operations (a ``recv`` that waits for a peer, a read of a terminal, a subprocess) do not hold
the whole program: :meth:`Channel.wait` lets the other threads run while the real operation is not
ready, and records how many times it let them, so a replay makes exactly the same scheduling points.
"""

from __future__ import annotations

import _thread
import importlib
import os
import sys
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from ..runtime import hooks
from ..runtime.calls import schedule_like
from ..runtime.outside import is_machinery_file
from ..runtime.state import RUNNABLE, Abort, Failure

RECORD = "record"
REPLAY = "replay"

KINDS = ("clocks", "randomness", "stdin", "environment", "sockets", "processes", "files")

_EXC_TAG = "!exc"


class Channel:
    """The link between the patched input functions and a recording (writing or reading it)."""

    def __init__(self, mode: str, writer: Any = None, recorded: list | None = None,
                 record_files: bool = False, complete: bool = True) -> None:
        self.mode = mode
        self.recording = mode == RECORD
        self.writer = writer
        self.record_files = record_files
        self.frozen = False
        self.record_secrets = False  # True: secret-looking environment variables are recorded in clear
        self.salt = ""  # the recording's salt for the digests of secret values (inputs/environment.py)
        self.queues: dict[int, deque] = defaultdict(deque)
        for tid, kind, value in recorded or ():
            self.queues[tid].append((kind, value))
        self.taken: dict[int, int] = defaultdict(int)
        self.divergence: str | None = None
        self.complete = complete  # replaying a whole run (False: a killed run's recording, which just stops)
        self.ended: str | None = None  # why the replay of an incomplete recording stopped here
        self.busy: set[int] = set()  # tids inside a patched function (its own inner calls pass through)
        self._saved: list[tuple[Any, str, Any]] = []

    # -- who is calling ---------------------------------------------------------------------------------

    def caller(self) -> tuple[Any, Any]:
        """``(execution, thread state)`` if a managed thread outside another patched call is calling."""
        ex = hooks._active
        if ex is None:
            return None, None
        me = ex.me()
        if me is None or me.tid in self.busy or machinery_calling():
            return None, None
        return ex, me

    # -- record / replay one value --------------------------------------------------------------------

    def put(self, me: Any, kind: str, value: Any) -> None:
        if self.frozen:  # Ctrl-C was handed to the program: the recording ends where it was
            return
        try:
            self.writer.input(me.tid, kind, value)
        except ValueError:  # int/str subclasses (enums), objects: keep their plain value
            self.writer.input(me.tid, kind, plain(value))

    def take(self, ex: Any, me: Any, kind: str) -> Any:
        queue = self.queues.get(me.tid)
        number = self.taken[me.tid] + 1
        if not queue and not self.complete:
            self.ended = (f"the recording ends before input #{number} of thread {me.name!r} ({kind}) at "
                          f"{_where(me)} (the recorded run was interrupted there); the replay stops at the "
                          "same point")
            ex.stop(me, Failure("divergence", self.ended, thread=me.name, step=ex.step))
        if not queue:
            self.diverge(ex, me, f"at step {ex.step}: thread {me.name!r} asks for input #{number} "
                                 f"({kind}) at "
                                 f"{_where(me)}, "
                                 "but the recording has no more inputs for it")
        recorded_kind, value = queue.popleft()
        if recorded_kind != kind:
            self.diverge(ex, me, f"at step {ex.step}: thread {me.name!r} asks for input #{number} "
                                 f"as {kind} at "
                                 f"{_where(me)}, "
                                 f"but the recording has {recorded_kind} there")
        self.taken[me.tid] = number
        return value

    def leaf(self, kind: str, real: Callable, *args: Any) -> Any:
        """:meth:`call` for a ``real`` that calls no other patched function (a clock, ``os.urandom``):
        the hot path, without the re-entrancy bookkeeping."""
        ex = hooks._active
        me = ex.me() if ex is not None else None
        if me is None or me.tid in self.busy:
            return real(*args)
        if self.recording:
            try:
                result = real(*args)
            except Exception as exc:
                self.put(me, kind, encode_exception(exc))
                raise
            self.put(me, kind, result)
            return result
        return unwrap(self.take(ex, me, kind))

    def call(self, kind: str, real: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``real(*args, **kwargs)`` recorded (or replayed) as one input of kind ``kind``.

        Results must be plain data (marshal-able); exceptions of the call are recorded and re-raised.
        """
        ex, me = self.caller()
        if me is None:
            return real(*args, **kwargs)
        if self.recording:
            self.busy.add(me.tid)
            try:
                result = real(*args, **kwargs)
            except Exception as exc:
                self.put(me, kind, encode_exception(exc))
                raise
            finally:
                self.busy.discard(me.tid)
            self.put(me, kind, result)
            return result
        return unwrap(self.take(ex, me, kind))

    # -- blocking operations -------------------------------------------------------------------------

    def wait(self, ex: Any, me: Any, ready: Callable[[float], bool], label: str, kind: str,
             patient: bool = False) -> None:
        """Let the other threads run until ``ready(timeout)`` (a real readiness test) says yes.

        Recording: while the operation is not ready and another thread can run, make a scheduling
        point (``io-wait``); when no other thread can run, wait on the wall clock -- for as long as
        it takes if ``patient`` (a terminal read), else until the watchdog reports the thread stuck.
        The number of points is recorded (kind ``<kind>.wait``) and a replay makes exactly as many.
        """
        if not self.recording:
            n = self.take(ex, me, kind + ".wait")
            for _ in range(n):
                ex.point(me, "io-wait", label)
            return
        points = 0
        keepalive(ex)  # a new wait is progress: the stuck timeout counts from here
        while not ready(0.0):
            if any(t.status == RUNNABLE and t is not me for t in ex.threads):
                ex.point(me, "io-wait", label)
                points += 1
            else:
                if patient:
                    keepalive(ex)
                if ready(0.05):
                    break
                if ex.aborting:  # stuck, or interrupted
                    raise Abort
        self.put(me, kind + ".wait", points)

    def blocking(self, kind: str, label: str, real: Callable, *args: Any, patient: bool = True,
                 **kwargs: Any) -> Any:
        """A blocking call (terminal read, subprocess): run it in a helper OS thread while the others
        run, then record its result like :meth:`call`."""
        ex, me = self.caller()
        if me is None:
            return real(*args, **kwargs)
        if not self.recording:
            self.wait(ex, me, lambda t: True, label, kind)
            return unwrap(self.take(ex, me, kind))
        box: list = []
        done = _thread.allocate_lock()
        done.acquire()

        def helper() -> None:
            try:
                box.append((True, real(*args, **kwargs)))
            except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
                box.append((False, exc))
            finally:
                done.release()

        _thread.start_new_thread(helper, ())
        self.wait(ex, me, lambda t: done.acquire(t > 0, t if t > 0 else -1), label, kind, patient)
        ok, value = box[0]
        if not ok:
            if isinstance(value, Exception):
                self.put(me, kind, encode_exception(value))
            raise value
        self.put(me, kind, value)
        return value

    # -- divergence -----------------------------------------------------------------------------------

    def diverge(self, ex: Any, me: Any, message: str) -> None:
        """End the replay: the program asked for something the recording does not have."""
        if self.divergence is None:
            self.divergence = message
        ex.stop(me, Failure("divergence", message, thread=me.name, step=ex.step))

    # -- patches -------------------------------------------------------------------------------------

    def set(self, owner: Any, name: str, value: Any) -> None:
        original = getattr(owner, name, None)
        self._saved.append((owner, name, owner.__dict__.get(name, _MISSING) if isinstance(owner, type)
                            else getattr(owner, name, _MISSING)))
        schedule_like(value, getattr(original, "__module__", None) or getattr(owner, "__module__", None)
                      or getattr(owner, "__name__", "builtins"))
        setattr(owner, name, value)

    def install(self, kinds: tuple[str, ...] = KINDS) -> Channel:
        for kind in kinds:
            importlib.import_module(f"{__name__}.{kind}").install(self)
        return self

    def uninstall(self) -> None:
        while self._saved:
            owner, name, value = self._saved.pop()
            if value is _MISSING:
                try:
                    delattr(owner, name)
                except AttributeError:
                    pass
            else:
                setattr(owner, name, value)

    def remaining(self) -> int:
        return sum(len(q) for q in self.queues.values())


_MISSING: Any = object()


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_TRANSPARENT = (os.path.join(_PACKAGE, "inputs") + os.sep, os.path.join(_PACKAGE, "runtime") + os.sep)
_STDLIB = os.path.dirname(os.__file__) + os.sep


def machinery_calling() -> bool:
    """Whether multiprocessing's machinery (runtime/outside.py) is behind this call: the walk out from
    the patched function meets a frame of the machinery before any of the program (a forkserver's
    socket, a spawned child's preparation data)."""
    return _not_the_programs(sys._getframe(2), interlace_too=False)


def interlace_calling(depth: int = 1) -> bool:
    """Whether interlace's own code (its instrumentation cache, the replay's debugger) is behind this
    call rather than the program: the nearest caller that is neither the standard library nor the
    runtime's hooks. Such calls read files and the environment in managed threads, but they are not the
    program's inputs and do not happen the same way from one run to the next. Nor are those of
    multiprocessing's machinery, which runs outside the scheduler (runtime/outside.py): it compares
    ``os.getpid()`` with the pid it saw to tell a forked child, so a replayed pid broke ``Process.join``."""
    return _not_the_programs(sys._getframe(depth + 1), interlace_too=True)


def _not_the_programs(frame: Any, interlace_too: bool) -> bool:
    """Walk out from ``frame`` past the standard library and interlace's inputs and runtime: True at a
    frame of multiprocessing's machinery (or of interlace's other code, with ``interlace_too``), False
    at the program's."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_PACKAGE):
            if interlace_too and not filename.startswith(_TRANSPARENT):
                return True
        elif not (filename.startswith(_STDLIB) or filename.startswith("<frozen")):
            return False
        elif is_machinery_file(filename):
            return True
        frame = frame.f_back
    return False


def keepalive(ex: Any) -> None:
    """Tell the watchdog that the baton holder is waiting on purpose (a terminal read), so that it
    is not reported stuck."""
    ex.keepalive()


def _where(me: Any) -> str:
    site = me.site
    if not site:
        return "an unknown location"
    return f"{os.path.basename(site[0])}:{site[1]}"


def plain(value: Any) -> Any:
    """``value`` made of exact builtin types only (what marshal can store)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v) for v in value) if type(value) in (tuple, list) else tuple(
            plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return repr(value)


def encode_exception(exc: BaseException) -> tuple:
    cls = type(exc)
    simple = (int, float, str, bytes, bool, type(None))
    args = tuple(a if isinstance(a, simple) else repr(a) for a in exc.args)
    return (_EXC_TAG, cls.__module__, cls.__qualname__, args)


def unwrap(value: Any) -> Any:
    """A recorded value, or raise the recorded exception."""
    if type(value) is tuple and len(value) == 4 and value[0] == _EXC_TAG:
        raise decode_exception(value)
    return value


def decode_exception(value: tuple) -> BaseException:
    _, module, qualname, args = value
    cls: Any = None
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        cls = obj
    except Exception:  # noqa: BLE001 - fall back to a generic error below
        cls = None
    if isinstance(cls, type) and issubclass(cls, BaseException):
        try:
            return cls(*args)
        except Exception:  # noqa: BLE001
            pass
    return OSError(f"{module}.{qualname}{args!r}")


__all__ = ["Channel", "KINDS", "RECORD", "REPLAY"]


def _import_all() -> None:
    # imported now, before any patch is installed, so that what they capture is the real thing
    for kind in KINDS:
        importlib.import_module(f"{__name__}.{kind}")


_import_all()
