"""The program that ``interlace run`` runs, as ``python SCRIPT`` (or ``python -m MODULE``) would run it.

Recording and replaying need the same thing: find the script or module, compile it instrumented, run
its top level as ``__main__`` in a managed thread, and end it the way the interpreter would (exit
status, traceback without interlace's frames); :class:`Tee` hashes what it writes so that a replay can
tell whether its output is the recorded one. Kept apart from :mod:`interlace.drivers.run`, which drives one
run, so the driver reads as the steps of a run and not as the details of ``__main__``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
import types
from typing import Any

from ..runtime.state import Abort

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The ``interlace`` package directory: frames of files below it are interlace's own, not the program's."""


class RunError(Exception):
    """Bad input (missing script, existing recording, ...): one paragraph, exit code 2."""


# -- the program ---------------------------------------------------------------------------------------


def resolve_program(script: str | None, module: str | None) -> tuple[str, str | None]:
    """``(absolute path of the file to run as __main__, package for -m)``."""
    if module:
        import importlib.util

        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.insert(0, cwd)  # as ``python -m`` does (the console script's sys.path[0] is its bin/)
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as exc:
            raise RunError(f"cannot find module {module!r}: {exc}.") from None
        if spec is None or not spec.origin:
            raise RunError(f"there is no module named {module!r} (on this sys.path).")
        if spec.submodule_search_locations is not None:
            main = importlib.util.find_spec(module + ".__main__")
            if main is None or not main.origin:
                raise RunError(f"{module!r} is a package and cannot be run directly (it has no __main__).")
            return os.path.abspath(main.origin), module
        return os.path.abspath(spec.origin), module.rpartition(".")[0]
    assert script is not None
    if os.path.isdir(script):
        raise RunError(directory_message(script))
    if not os.path.isfile(script):
        raise RunError(f"there is no script at {script!r}. Check the path (it is relative to "
                       f"{os.getcwd()!r}).")
    return os.path.abspath(script), None


def directory_message(path: str) -> str:
    return (f"{path!r} is a directory, not a script. Pass the script to run, or -m PACKAGE to run a "
            "package's __main__.py (from the directory that contains the package).")


def source_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Program:
    """The managed main function: the script's top level as ``__main__``, like ``python SCRIPT``."""

    def __init__(self, path: str, args: list[str], package: str | None = None) -> None:
        from ..instrument import compile_script

        self.path = path
        self.args = list(args)
        self.package = package
        try:
            self.code = compile_script(path)
        except SyntaxError as exc:
            raise RunError(f"{path} is not valid Python for this interpreter ({sys.version.split()[0]}): "
                           f"{exc.msg} at line {exc.lineno}.") from None
        self.exit_code = 0
        self.exception: str | None = None

    def __call__(self) -> None:
        module = types.ModuleType("__main__")
        module.__file__ = self.path
        module.__builtins__ = __builtins__  # type: ignore[attr-defined]
        if self.package is not None:
            module.__package__ = self.package
        saved = (sys.modules.get("__main__"), sys.argv, list(sys.path))
        sys.modules["__main__"] = module
        sys.argv = [self.path, *self.args]
        sys.path[0:1] = [os.getcwd() if self.package is not None else os.path.dirname(self.path)]
        try:
            exec(self.code, module.__dict__)
        except Abort:
            raise
        except BaseException:
            from ..runtime import hooks

            ex = hooks._active
            if ex is not None and ex.aborting:  # the execution ends (a divergence, a deadlock)
                raise Abort from None
            self._exit(sys.exc_info()[1])
        finally:
            main, sys.argv, sys.path[:] = saved
            if main is not None:
                sys.modules["__main__"] = main

    def _exit(self, exc: Any) -> None:
        """How ``python SCRIPT`` ends on ``exc``: its exit status, and the traceback it prints."""
        if isinstance(exc, SystemExit):
            code = exc.code
            if code is None:
                self.exit_code = 0
            elif isinstance(code, int):
                self.exit_code = code % 256
            else:
                print(code, file=sys.stderr)
                self.exit_code = 1
            return
        self.exception = f"{type(exc).__name__}: {exc}"
        sys.stderr.write(format_exception(exc))
        self.exit_code = 130 if isinstance(exc, KeyboardInterrupt) else 1


def format_exception(exc: BaseException) -> str:
    """Python's traceback, without interlace's own frames (the hooks, the runner)."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    seen: set[int] = set()
    stack = [te]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        frames = [f for f in t.stack if not f.filename.startswith(PACKAGE_DIR + os.sep)]
        t.stack = traceback.StackSummary.from_list(frames)
        stack += [c for c in (t.__cause__, t.__context__) if c is not None]
    return "".join(te.format())


#: how much of each output stream a recording keeps as text, to show where a replay differs
HEAD_CHARS = 64 * 1024


class Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes through, hashes what the program wrote and
    keeps its first :data:`HEAD_CHARS` characters."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._hash = hashlib.sha256()
        self.size = 0
        self._head: list[str] = []

    def write(self, text: str) -> int:
        self._hash.update(text.encode("utf-8", "surrogatepass"))
        if self.size < HEAD_CHARS:
            self._head.append(text[:HEAD_CHARS - self.size])
        self.size += len(text)
        return self._real.write(text)

    def head(self) -> str:
        return "".join(self._head)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def digest(self) -> str:
        return self._hash.hexdigest()[:32]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

