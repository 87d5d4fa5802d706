"""Subprocesses: ``subprocess.run`` (and so ``check_output``, ``getoutput``, ``getstatusoutput``) and
``subprocess.call`` (and so ``check_call``): return code and captured output.

Recording runs the real process in a helper thread while the program's other threads keep running;
replaying starts no process at all. Output a child writes straight to the terminal (not captured) is
not part of the recording. Direct use of ``subprocess.Popen`` is not recorded.
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
