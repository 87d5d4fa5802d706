"""Running a whole script as the function under test: ``interlace explore SCRIPT [ARGS...]`` (or
``-m MODULE [ARGS...]``).

Each execution runs the script's top level as ``__main__`` in a fresh module, with ``sys.argv`` and
``sys.path[0]`` set as ``python SCRIPT ARGS`` (or ``python -m MODULE ARGS``: ``__package__`` set,
the current directory first on the path) would set them. ``sys.exit(0)`` is success; any other exit
status is a failure.
"""

from __future__ import annotations

import io
import os
import sys
import types
from typing import Any


class ScriptExit(Exception):
    """The script called ``sys.exit`` with a non-zero status."""


class ScriptRunner:
    """A callable for :func:`interlace.explore` that runs a compiled script once per call."""

    def __init__(self, path: str, args: list[str], capture: bool = True, module: str | None = None,
                 package: str | None = None) -> None:
        from ..instrument import compile_script

        self.path = os.path.abspath(path)
        self.args = list(args)
        self.capture = capture
        self.module = module  # run as ``python -m module``: then ``package`` is its __package__
        self.package = package
        self.code = compile_script(self.path)
        self.output = ""

    def target(self) -> dict[str, Any]:
        from ..recording.program import source_hash

        # the source's hash, as recordings keep it: a replay says when the script changed since
        target: dict[str, Any] = {"script": self.path, "argv": self.args, "sha256": source_hash(self.path)}
        if self.module is not None:
            target["module"], target["package"] = self.module, self.package
        return target

    def __reduce__(self) -> tuple:
        # a worker process (``--workers``, ``--dask``) compiles the script again from its path; the
        # hash tells a worker whose file at that path is another one
        from ..recording.program import source_hash

        return _runner_in_worker, (self.path, self.args, self.capture, self.module, self.package,
                                   source_hash(self.path))

    def __call__(self) -> None:
        module = types.ModuleType("__main__")
        module.__file__ = self.path
        module.__builtins__ = __builtins__  # type: ignore[attr-defined]
        if self.module is not None:
            module.__package__ = self.package
        saved = (sys.modules.get("__main__"), sys.argv, list(sys.path), sys.stdout, sys.stderr)
        buffer = io.StringIO() if self.capture else None
        sys.modules["__main__"] = module
        sys.argv = [self.path, *self.args]
        sys.path.insert(0, os.getcwd() if self.module is not None else os.path.dirname(self.path))
        loaded = set(sys.modules)
        if buffer is not None:
            sys.stdout = sys.stderr = buffer
        try:
            exec(self.code, module.__dict__)
        except SystemExit as exc:
            code = exc.code
            if code not in (None, 0):
                if not isinstance(code, int):
                    print(code, file=sys.stderr)
                    code = 1
                raise ScriptExit(f"the script exited with status {code}") from None
        finally:
            main, sys.argv, sys.path[:], sys.stdout, sys.stderr = saved
            if main is not None:
                sys.modules["__main__"] = main
            if buffer is not None:
                self.output = buffer.getvalue()
            self._forget_modules(loaded)

    @staticmethod
    def _forget_modules(loaded: set[str]) -> None:
        """Each execution starts like a fresh ``python SCRIPT``: the program's own modules (loaded
        through interlace's import hook) that this execution imported are imported anew by the
        next one, so their global state does not carry over. Standard-library and installed
        modules stay loaded."""
        from ..instrument.importhook import is_hook_loaded

        for name in [n for n in sys.modules if n not in loaded]:
            module = sys.modules.get(name)
            if module is not None and is_hook_loaded(module):
                del sys.modules[name]
                parent, _, child = name.rpartition(".")
                owner = sys.modules.get(parent) if parent else None
                if owner is not None and getattr(owner, child, None) is module:
                    delattr(owner, child)


def _runner_in_worker(path: str, args: list[str], capture: bool, module: str | None, package: str | None,
                      sha256: str) -> ScriptRunner:
    from ..recording.program import source_hash

    if not os.path.isfile(path) or source_hash(path) != sha256:
        raise RuntimeError(f"the script {path} is not on this machine, or is another file there (its SHA-256 "
                           "differs): a worker must see the program's files at the same paths")
    return ScriptRunner(path, args, capture=capture, module=module, package=package)


class UsageError(Exception):
    """Bad input from the user: printed as one paragraph, exit code 2."""


def program_and_args(command: str, script: str | None, module: str | None,
                     args: list[str]) -> tuple[str | None, list[str]]:
    """``SCRIPT ARGS...`` or ``-m MODULE ARGS...`` as ``command``'s command line parsed them:
    ``(script, args)``, script None for a module (after ``-m MODULE`` every word is the module's)."""
    args = list(args)
    if args and args[0] == "--":
        args = args[1:]
    if module:
        return None, ([script] if script is not None else []) + args
    if script is None:
        raise UsageError(f"{command} needs a SCRIPT (or -m MODULE) to run.")
    return script, args


def script_runner(path: str | None, args: list[str], capture: bool, module: str | None = None):
    """A :class:`ScriptRunner` for ``path`` (or for ``module``, run like ``python -m``), or a
    :class:`UsageError` saying what is wrong with it."""
    package = None
    if module is not None:
        from ..recording.program import RunError, resolve_program

        try:
            path, package = resolve_program(None, module)
        except RunError as exc:
            raise UsageError(str(exc)) from None
    assert path is not None
    if os.path.isdir(path):
        from ..recording.program import directory_message

        raise UsageError(directory_message(path))
    if not os.path.isfile(path):
        raise UsageError(f"there is no script at {path!r}. Check the path (it is relative to {os.getcwd()!r}).")
    try:
        return ScriptRunner(path, args, capture=capture, module=module, package=package)
    except SyntaxError as exc:
        raise UsageError(
            f"{path} is not valid Python for this interpreter ({sys.version.split()[0]}): "
            f"{exc.msg} at line {exc.lineno}. Fix the script, or run interlace with the Python it targets."
        ) from None


def load_script_schedule(path: str, capture: bool, in_python: str):
    """``(schedule, runner)`` for a schedule file saved by ``interlace explore`` of a script.

    ``in_python`` completes the message for a schedule saved from a function: what to do instead.
    """
    from ..schedule import Schedule, ScheduleError

    try:
        schedule = Schedule.load(path)
    except ScheduleError as exc:
        raise UsageError(str(exc)) from None
    script = schedule.target.get("script")
    if not script:
        raise UsageError(f"{path} was saved from a Python function, not a script; {in_python}")
    module = schedule.target.get("module")
    runner = script_runner(None if module else script, list(schedule.target.get("argv", [])),
                           capture=capture, module=module)
    saved = schedule.target.get("sha256")
    if saved:
        from ..recording.program import source_hash

        if source_hash(runner.path) != saved:
            print(f"interlace: note: {runner.path} changed since the schedule was saved (its SHA-256 differs): "
                  "the replay may diverge, or not reproduce the failure.", file=sys.stderr)
    return schedule, runner


def races_mode(schedule) -> str:
    """How a replay of ``schedule`` treats races: as failures if the schedule was saved for one."""
    text = schedule.failure or ""
    return "error" if "data race" in text or "lock-order inversion" in text else "warn"


def diverged(result) -> bool:
    """Print the divergence message if the replay diverged; True if it did."""
    if result.divergence:
        print(f"interlace: the program diverged from the schedule at {result.divergence}. The script or "
              "its inputs changed since the schedule was saved; explore again to get a fresh one.",
              file=sys.stderr)
    return bool(result.divergence)


NOT_REPRODUCED = "interlace: the schedule ran to the end without a failure (it did not reproduce)."
