"""Subprocesses: ``subprocess.run`` (and so ``check_output``, ``getoutput``, ``getstatusoutput``),
``subprocess.call`` (and so ``check_call``), and ``subprocess.Popen``'s ``pid``, ``communicate``,
``wait`` and ``poll``: return codes and captured output.

Recording runs the real process, waiting for it in a helper thread while the program's other threads
keep running; replaying starts no process at all. Not recorded: output a child writes straight to the
terminal (not captured), and reads of a ``Popen``'s pipes other than through ``communicate``.
"""

from __future__ import annotations

import subprocess
from typing import Any

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
                return
            self._il_replaying = True
            self.args = args
            self._child_created = False
            self.returncode = None
            self.stdin = self.stdout = self.stderr = None
            self.pid = unwrap(ch.take(ex, me, "subprocess.Popen"))

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
