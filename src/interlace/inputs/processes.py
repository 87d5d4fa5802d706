"""Subprocesses: ``subprocess.run`` (and so ``check_output``, ``getoutput``, ``getstatusoutput``),
``subprocess.call`` (and so ``check_call``), and ``subprocess.Popen``'s ``pid``, ``communicate``,
``wait`` and ``poll``, and its pipes (``p.stdout.read()``, ``readline``, iteration, ``readinto``,
``p.stdin.write``...): return codes, captured output and what each pipe read returned.

Recording runs the real process, waiting for it in a helper thread while the program's other threads
keep running; replaying starts no process at all. Not recorded: output a child writes straight to the
terminal (not captured), and a pipe's file descriptor used directly (``os.read(p.stdout.fileno())``,
``select``); a replayed pipe has no file descriptor.
"""

from __future__ import annotations

import inspect
import io
import subprocess
from typing import Any

from .streams import RecordedCalls, RecordedReads

_real_run = subprocess.run
_real_call = subprocess.call


def install(ch: Any) -> None:
    def run(*popenargs: Any, check: bool = False, **kwargs: Any) -> subprocess.CompletedProcess:
        args = popenargs[0] if popenargs else kwargs.get("args")

        def real() -> tuple:
            done = _real_run(*popenargs, **kwargs)
            return (done.returncode, done.stdout, done.stderr)

        returncode, stdout, stderr = ch.blocking("subprocess.run", f"subprocess.run({args!r})", real)
        if check and returncode:
            raise subprocess.CalledProcessError(returncode, args, stdout, stderr)
        return subprocess.CompletedProcess(args, returncode, stdout, stderr)

    def call(*popenargs: Any, **kwargs: Any) -> int:
        args = popenargs[0] if popenargs else kwargs.get("args")
        return ch.blocking("subprocess.call", f"subprocess.call({args!r})", _real_call, *popenargs, **kwargs)

    ch.set(subprocess, "run", run)
    ch.set(subprocess, "call", call)
    ch.set(subprocess, "Popen", _popen_class(ch))


def _popen_class(ch: Any) -> type:
    from . import encode_exception, unwrap

    real_popen = subprocess.Popen

    class Popen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            ex, me = ch.caller()
            self._il_replaying = False
            if me is None:
                super().__init__(args, *rest, **kwargs)
                return
            if ch.recording:
                ch.busy.add(me.tid)
                try:
                    super().__init__(args, *rest, **kwargs)
                except Exception as exc:
                    ch.put(me, "subprocess.Popen", encode_exception(exc))
                    raise
                finally:
                    ch.busy.discard(me.tid)
                ch.put(me, "subprocess.Popen", self.pid)
                self._il_pipes(ch, self.stdin, self.stdout, self.stderr)
                return
            self._il_replaying = True
            self.args = args
            self._child_created = False
            self.returncode = None
            self.stdin = self.stdout = self.stderr = None
            self.pid = unwrap(ch.take(ex, me, "subprocess.Popen"))
            bound = _popen_signature.bind_partial(args, *rest, **kwargs).arguments
            self._il_pipes(ch, *(True if bound.get(name) == subprocess.PIPE else None
                                 for name in ("stdin", "stdout", "stderr")))

        def _il_pipes(self, ch: Any, stdin: Any, stdout: Any, stderr: Any) -> None:
            """Pipes whose reads and writes are inputs (``True``: replaying, there is no real pipe)."""
            real = (lambda pipe: None if pipe is True else pipe)
            if stdin is not None:
                self.stdin = PipeWriter(ch, real(stdin), "subprocess.stdin")
            if stdout is not None:
                self.stdout = PipeReader(ch, real(stdout), "subprocess.stdout")
            if stderr is not None:
                self.stderr = PipeReader(ch, real(stderr), "subprocess.stderr")

        def communicate(self, input: Any = None, timeout: Any = None) -> Any:  # noqa: A002
            def real() -> tuple:
                out, err = real_popen.communicate(self, input, timeout)
                return (out, err, self.returncode)

            out, err, self.returncode = ch.blocking("subprocess.communicate", f"communicate {self.args!r}", real)
            return out, err

        def wait(self, timeout: Any = None) -> Any:
            self.returncode = ch.blocking("subprocess.wait", f"wait {self.args!r}", real_popen.wait, self, timeout)
            return self.returncode

        def poll(self) -> Any:
            self.returncode = ch.call("subprocess.poll", real_popen.poll, self)
            return self.returncode

        def send_signal(self, sig: int) -> None:
            if not self._il_replaying:
                real_popen.send_signal(self, sig)

        def __del__(self) -> None:
            if not getattr(self, "_il_replaying", False):
                real_popen.__del__(self)

    Popen.__name__ = Popen.__qualname__ = "Popen"
    Popen.__module__ = "subprocess"
    return Popen


_popen_signature = inspect.signature(subprocess.Popen.__init__).replace(
    parameters=list(inspect.signature(subprocess.Popen.__init__).parameters.values())[1:])


class _Pipe(RecordedCalls):
    """One end of a child's pipe, as the program sees it. Recording: the real file object, each call
    recorded. Replaying (``real`` None): the recorded results, and nothing to close."""

    def __init__(self, ch: Any, real: Any, kind: str) -> None:
        self._ch = ch
        self._real = real
        self._kind = kind
        self.closed = False

    def close(self) -> None:
        self.closed = True
        if self._real is not None:
            self._real.close()

    def fileno(self) -> int:
        if self._real is None:
            raise io.UnsupportedOperation("a replayed pipe has no file descriptor (interlace replays its reads)")
        return self._real.fileno()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            raise AttributeError(f"{name!r} of a replayed pipe")
        return getattr(self._real, name)


class PipeReader(RecordedReads, _Pipe):
    def readinto(self, buffer: Any) -> int:
        def real(size: int) -> bytes:
            chunk = bytearray(size)
            n = self._real.readinto(chunk)
            return bytes(chunk[:n or 0])

        data = self._ch.blocking(self._kind, f"{self._kind}.readinto", real if self._real is not None else None,
                                 len(buffer))
        buffer[:len(data)] = data
        return len(data)


class PipeWriter(_Pipe):
    """The child's stdin: writes are inputs too (how much was written, or the BrokenPipeError)."""

    def write(self, data: Any) -> Any:
        return self._io("write", data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._io("flush")

    def writable(self) -> bool:
        return True
