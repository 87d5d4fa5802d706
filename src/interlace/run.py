"""One recorded run of a whole program (``interlace run``), and its replay (``interlace replay FILE.ilr``).

A run executes the program once under the controlled scheduler with a fresh seed, like ``python
SCRIPT`` would (live output, thread exceptions printed and the program going on, its exit code), and
streams to a recording every scheduling decision -- the thread chosen, its source location and the
operation it is about to do -- and every nondeterministic input (:mod:`interlace.inputs`).

A replay runs the same program with the recorded decisions and inputs: no peer, process or terminal is
needed. Each decision is checked against the program (thread, location, operation, who could run) and
each input against what the program asks for; the first mismatch stops the replay with a divergence.

``PYTHONHASHSEED`` is fixed when an interpreter starts, so the command line runs the program in a
child interpreter started with the recorded hash seed (:func:`spawn`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import subprocess
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

from .recording import MAGIC, Recording, RecordingWriter, load
from .runtime.execution import Abort
from .strategies.base import STOP, Strategy

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DIVERGED = 0, 1, 2, 3
KEEP = ("failing", "all", "none")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_ROOT = os.path.dirname(_PACKAGE_DIR)
_real_time = time.time
_real_perf = time.perf_counter


class RunError(Exception):
    """Bad input (missing script, existing recording, ...): one paragraph, exit code 2."""


# -- the program ---------------------------------------------------------------------------------------


def resolve_program(script: str | None, module: str | None) -> tuple[str, str | None]:
    """``(absolute path of the file to run as __main__, package for -m)``."""
    if module:
        import importlib.util

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
    if not os.path.isfile(script):
        raise RunError(f"there is no script at {script!r}. Check the path (it is relative to "
                       f"{os.getcwd()!r}).")
    return os.path.abspath(script), None


def source_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Program:
    """The managed main function: the script's top level as ``__main__``, like ``python SCRIPT``."""

    def __init__(self, path: str, args: list[str], package: str | None = None) -> None:
        from .instrument import compile_script

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
            from .runtime import hooks

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
        frames = [f for f in t.stack if not f.filename.startswith(_PACKAGE_DIR + os.sep)]
        t.stack = traceback.StackSummary.from_list(frames)
        stack += [c for c in (t.__cause__, t.__context__) if c is not None]
    return "".join(te.format())


class Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes through and hashes what the program wrote."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, text: str) -> int:
        self._hash.update(text.encode("utf-8", "surrogatepass"))
        self.size += len(text)
        return self._real.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def digest(self) -> str:
        return self._hash.hexdigest()[:32]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


# -- strategies that record and check decisions ----------------------------------------------------


def relative_site(site: Any, root: str) -> tuple | None:
    if not site:
        return None
    filename = site[0]
    if root and filename.startswith(root + os.sep):
        filename = os.path.relpath(filename, root).replace(os.sep, "/")
    return (filename, site[1] or 0, site[2] or 0)


class RecordingStrategy(Strategy):
    """Delegates every choice to ``inner`` and writes it, with its site and operation, to ``writer``."""

    def __init__(self, inner: Strategy, writer: RecordingWriter) -> None:
        super().__init__(inner.seed)
        self.inner = inner
        self.name = inner.describe()
        self.writer = writer
        self.named = 0

    def begin(self, index: int) -> bool:
        return self.inner.begin(index)

    def thread_created(self, tid: int) -> None:
        self.inner.thread_created(tid)

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        tid = self.inner.choose(enabled, current, execution)
        threads = execution.threads
        if self.named < len(threads):
            for ts in threads[self.named:]:
                self.writer.thread(ts.tid, ts.name)
            self.named = len(threads)
        if tid >= 0:
            ts = threads[tid]
            self.writer.decision(tid, ts.site, ts.pending, enabled)
        return tid

    def end(self, execution: Any) -> None:
        self.inner.end(execution)

    def describe(self) -> str:
        return self.inner.describe()


class CheckingReplay(Strategy):
    """Follows the recorded decisions and checks each one against the program."""

    name = "replay"

    def __init__(self, recording: Recording, root: str, until: int | None = None) -> None:
        super().__init__(0)
        self.decisions = recording.decisions
        self.source_lines = recording.source_lines
        self.complete = recording.complete
        self.root = root
        self.position = 0
        self.divergence: str | None = None
        self.ended = False  # reached the end of an interrupted run's recording
        self.until = until
        self.paused = False
        self.channel: Any = None  # the inputs, suspended while pdb runs

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        i = self.position
        self.position += 1
        step = execution.step
        if self.until is not None and not self.paused and step >= self.until:
            self.paused = True
            _pause(execution, current, self.channel)
        if i >= len(self.decisions):
            if not self.complete:
                self.ended = True
                self.divergence = (f"the recording ends at decision {len(self.decisions)} (the "
                                   "recorded run was "
                                   "interrupted there); the replay stops at the same point")
                return STOP
            ts = execution.threads[current if current is not None else enabled[0]]
            here = self._place(relative_site(ts.site, self.root), ts.pending, False)
            self.divergence = (f"at step {step} (decision {i + 1}): the program makes a scheduling "
                               "decision the "
                               f"recording does not have: the recorded run made {len(self.decisions)}; "
                               f"thread {ts.name!r} is at {here}")
            return STOP
        d = self.decisions[i]
        threads = execution.threads
        if d.tid >= len(threads):
            self.divergence = (f"at step {step} (decision {i + 1}): the recording runs thread #{d.tid} at "
                               f"{self._place(d.site, d.op)}, but the program has only "
                               f"{len(threads)} thread(s) "
                               f"({', '.join(repr(t.name) for t in threads)})")
            return STOP
        ts = threads[d.tid]
        site = relative_site(ts.site, self.root)
        if site != d.site or ts.pending != d.op:
            self.divergence = (f"at step {step} (decision {i + 1}): the recording runs thread {ts.name!r} at "
                               f"{self._place(d.site, d.op)}, but the program has it at "
                               f"{self._place(site, ts.pending, False)}")
            return STOP
        if tuple(enabled) != d.enabled:
            names = lambda tids: ", ".join(
                repr(threads[t].name) if t < len(threads) else f"#{t}" for t in tids)
            self.divergence = (f"at step {step} (decision {i + 1}), with thread {ts.name!r} at "
                               f"{self._place(site, ts.pending, False)}, the recording has "
                               f"{names(d.enabled)} able to "
                               f"run, but the program has {names(enabled)}")
            return STOP
        return d.tid

    def _place(self, site: Any, op: Any, recorded: bool = True) -> str:
        """``file:line:col (operation) `source line``` -- the recorded source line for recorded sites."""
        if not site:
            return f"an unknown location ({op or 'no operation'})"
        filename, line, col = site
        if recorded:
            text = self.source_lines.get(tuple(site), "")
        else:
            import linecache

            path = filename if os.path.isabs(filename) else os.path.join(self.root, filename)
            text = linecache.getline(path, line).strip()
        where = f"{filename}:{line}:{col} ({op or 'no operation'})"
        return f"{where} `{text}`" if text else where


def _pause(execution: Any, current: int | None, channel: Any) -> None:
    """``--until STEP``: open pdb in the program's frame of the thread that holds the baton."""
    import pdb

    from .instrument import is_instrumented_code

    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR + os.sep):
        frame = frame.f_back
    program_frame = frame
    while program_frame is not None and not is_instrumented_code(program_frame.f_code):
        program_frame = program_frame.f_back
    frame = program_frame or frame  # the program's own code if it is on the stack
    ts = execution.threads[current] if current is not None else None
    name = ts.name if ts is not None else "?"
    print(f"interlace: replay paused at step {execution.step} in thread {name!r}; inspect with pdb "
          "(p, w, up, down), `c` continues the replay", file=sys.__stdout__, flush=True)
    if frame is None:
        return
    busy = set(channel.busy) if channel is not None else set()
    if channel is not None:
        channel.busy.update(t.tid for t in execution.threads)  # pdb's own reads are not the program's
    try:
        debugger = pdb.Pdb(stdin=sys.__stdin__, stdout=sys.__stdout__)
        debugger.reset()
        debugger.interaction(frame, None)
    finally:
        if channel is not None:
            channel.busy.clear()
            channel.busy.update(busy)


# -- one run -------------------------------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What a recorded or replayed run did."""

    exit_code: int
    outcome: str  # "ok", "exit", "exception", "thread-exception", "deadlock", "livelock", "stuck", ...
    message: str = ""
    failing: bool = False
    divergence: str | None = None
    ended_early: bool = False
    thread_exceptions: list[str] = field(default_factory=list)
    races: list[str] = field(default_factory=list)
    decisions: int = 0
    inputs: int = 0
    duration: float = 0.0
    stdout_sha: str = ""
    stderr_sha: str = ""
    path: str = ""
    notes: list[str] = field(default_factory=list)

    def end_record(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "outcome": self.outcome, "message": self.message,
                "failing": self.failing, "thread_exceptions": list(self.thread_exceptions),
                "races": list(self.races), "decisions": self.decisions, "inputs": self.inputs,
                "duration": round(self.duration, 6), "stdout_sha256": self.stdout_sha,
                "stderr_sha256": self.stderr_sha}


def _execute(program: Program, strategy: Strategy, channel: Any, *, model: str, max_steps: int, epoch: float,
             random_seed: int, races: str, stdout: Any = None, stderr: Any = None) -> tuple[Any, RunOutcome]:
    """Run ``program`` once under ``strategy`` with the inputs of ``channel`` installed."""
    import threading

    from .explore import Session
    from .inputs import randomness
    from .runtime import hooks
    from .runtime.execution import Abort as _Abort

    out = Tee(stdout if stdout is not None else sys.stdout)
    err = Tee(stderr if stderr is not None else sys.stderr)
    thread_exceptions: list[str] = []
    saved_streams = (sys.stdout, sys.stderr)

    def excepthook(args: Any) -> None:
        ex = hooks._active
        me = ex.me() if ex is not None else None
        if me is None:
            return runtime_hook(args)
        if args.exc_type is SystemExit or (args.exc_type is not None and issubclass(args.exc_type, _Abort)):
            return None
        name = args.thread.name if args.thread is not None else me.name
        thread_exceptions.append(f"{name}: {args.exc_type.__name__}: {args.exc_value}")
        sys.stderr.write(f"Exception in thread {name}:\n{format_exception(args.exc_value)}")
        return None

    def unraisable(args: Any) -> None:
        ex = hooks._active
        if ex is not None and ex.aborting and isinstance(args.exc_value, (KeyError, _Abort)):
            return  # a managed thread unwinding at the end of an aborted execution
        runtime_unraisable(args)

    runtime_unraisable = sys.unraisablehook
    sys.unraisablehook = unraisable
    started = _real_perf()
    with Session(program, (), (), races=races) as session:
        runtime_hook = threading.excepthook
        channel.install()
        threading.excepthook = excepthook
        randomness.seed_global(random_seed)
        sys.stdout, sys.stderr = out, err
        try:
            strategy.begin(0)
            ex = session.run(strategy, model, max_steps, epoch=epoch)
        finally:
            sys.stdout, sys.stderr = saved_streams
            threading.excepthook = runtime_hook
            channel.uninstall()
        found, inversions = session.new_findings()
    sys.unraisablehook = runtime_unraisable
    duration = _real_perf() - started
    races_found = [r.summary() for r in found if not r.suppressed] + [i.summary() for i in inversions]
    outcome = RunOutcome(exit_code=program.exit_code, outcome="ok", thread_exceptions=thread_exceptions,
                         races=races_found, duration=duration, stdout_sha=out.digest(),
                         stderr_sha=err.digest())
    failure = ex.failure
    if failure is not None and failure.kind != "divergence":
        outcome.outcome = failure.kind
        outcome.message = failure.message
        outcome.exit_code = EXIT_FAILURE
        outcome.failing = True
    elif program.exception is not None:
        outcome.outcome, outcome.message, outcome.failing = "exception", program.exception, True
    elif thread_exceptions:
        outcome.outcome, outcome.message, outcome.failing = "thread-exception", thread_exceptions[0], True
    elif program.exit_code != 0:
        outcome.outcome, outcome.message = "exit", f"exit status {program.exit_code}"
        outcome.failing = True
    return ex, outcome


def _failure_report(ex: Any) -> str:
    f = ex.failure
    message = f.message if f.message.startswith(f"{f.kind}:") else f"{f.kind}: {f.message}"
    lines = [f"interlace: {message}"]
    lines += ["  " + d.replace("\n", "\n  ") for d in f.details]
    return "\n".join(lines) + "\n"


def default_path(program_path: str, directory: str = os.path.join(".interlace", "recordings")) -> str:
    stem = os.path.splitext(os.path.basename(program_path))[0]
    if stem == "__main__":
        stem = os.path.basename(os.path.dirname(program_path))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(_real_time()))
    base = os.path.join(directory, f"{stem}-{stamp}")
    path, n = base + ".ilr", 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}.ilr"
    return path


def record(script: str | None, args: list[str], *, module: str | None = None, path: str | None = None,
           force: bool = False, keep: str = "failing", seed: int | None = None, strategy: str = "random",
           model: str = "free-threaded", max_steps: int = 1_000_000, races: str = "warn",
           record_files: bool = False, hash_seed: int | None = None, quiet: bool = False,
           stdout: Any = None, stderr: Any = None) -> RunOutcome:
    """Run the program once, recording it; in the current interpreter (see :func:`spawn`)."""
    from . import __version__
    from .inputs import RECORD, Channel
    from .strategies import make_strategy

    if keep not in KEEP:
        raise RunError(f"--keep must be one of {', '.join(KEEP)}, not {keep!r}.")
    program_path, package = resolve_program(script, module)
    program = Program(program_path, args, package)
    if path is None:
        path = default_path(program_path)
    elif os.path.exists(path) and not force:
        raise RunError(f"{path!r} already exists; interlace never overwrites a recording. Pass --force to "
                       "replace it, or choose another --record path.")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    if hash_seed is None:
        env_seed = os.environ.get("PYTHONHASHSEED", "")
        hash_seed = int(env_seed) if env_seed.isdigit() else 0
    root = os.path.dirname(program_path)
    random_seed = random.SystemRandom().randrange(2**63)
    epoch = round(_real_time(), 6)
    strat = make_strategy(strategy, seed)
    header = {
        "interlace": __version__,
        "python": {"version": platform.python_version(), "implementation": sys.implementation.name,
                   "hexversion": sys.hexversion, "gil": not _free_threaded()},
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "release": platform.release(),
                     "byteorder": sys.byteorder},
        "program": {"path": program_path, "module": module, "package": package, "root": root, "args": list(args),
                    "cwd": os.getcwd(), "argv": [program_path, *args],
                    "sources": {os.path.relpath(program_path, root): source_hash(program_path)}},
        "strategy": strat.describe(), "strategy_name": strategy, "seed": seed, "model": model,
        "max_steps": max_steps, "hash_seed": hash_seed, "random_seed": random_seed, "epoch": epoch,
        "races": races, "record_files": record_files, "created": _real_time(),
    }
    writer = RecordingWriter(path, header, force=force, root=root)
    channel = Channel(RECORD, writer=writer, record_files=record_files)
    recorder = RecordingStrategy(strat, writer)
    real_exit = os._exit

    def hard_exit(code: int) -> None:
        """``os._exit`` in the program: end the recording first (the process ends without cleanup)."""
        try:
            if not writer.closed:
                writer.end(RunOutcome(exit_code=code, outcome="os._exit", message=f"os._exit({code})",
                                      failing=code != 0, decisions=writer.decisions,
                                      inputs=writer.inputs).end_record())
                writer.close()
        finally:
            real_exit(code)

    os._exit = hard_exit
    try:
        ex, outcome = _execute(program, recorder, channel, model=model, max_steps=max_steps, epoch=epoch,
                               random_seed=random_seed, races=races, stdout=stdout, stderr=stderr)
        outcome.decisions, outcome.inputs = writer.decisions, writer.inputs
        if ex.failure is not None:
            (stderr or sys.stderr).write(_failure_report(ex))
        writer.end(outcome.end_record())
    finally:
        os._exit = real_exit
        writer.close()
    outcome.path = path
    report = stderr or sys.stderr
    for line in outcome.races:
        report.write(f"interlace: race: {line}\n")
    kept = keep == "all" or (keep == "failing" and outcome.failing)
    if not kept:
        os.unlink(path)
        outcome.path = ""
    if not quiet:
        what = f"failed ({outcome.outcome}: {outcome.message})" if outcome.failing else "ran without failure"
        if kept:
            report.write(f"interlace: the run {what}; recorded {outcome.decisions} decisions and "
                         f"{outcome.inputs} inputs to {path} (seed {seed}, hash seed {hash_seed}).\n"
                         f"interlace: replay it: interlace replay {_quote(path)}\n")
        else:
            report.write(f"interlace: the run {what} (seed {seed}); recording not kept (--keep {keep}).\n")
    return outcome


def replay(path: str, *, until: int | None = None, quiet: bool = False, stdout: Any = None,
           stderr: Any = None,
           fresh_modules: bool = False, recording: Recording | None = None,
           hash_seed: int | None = None) -> RunOutcome:
    """Replay a recording in the current interpreter. ``RecordingError`` if the file is unusable."""
    from .inputs import REPLAY, Channel

    rec = recording if recording is not None else load(path)
    h = rec.header
    prog = h["program"]
    report = stderr or sys.stderr
    notes = []
    program_path = prog["path"]
    root = prog.get("root") or os.path.dirname(program_path)
    if not os.path.isfile(program_path):
        # a checkout elsewhere: the program at the same place relative to the current directory
        moved = os.path.abspath(os.path.relpath(program_path, prog.get("cwd") or os.sep))
        if not os.path.isfile(moved):
            raise RunError(f"the recorded program {program_path!r} does not exist here (nor at {moved!r}); "
                           "replay needs the program's source: run the replay from a checkout where the "
                           "program is at the same path, or at the same place relative to the directory.")
        notes.append(f"the program is at {moved} here (recorded at {program_path})")
        program_path, root = moved, os.path.dirname(moved)
    program = Program(program_path, list(prog["args"]), prog.get("package"))
    for rel, digest in (prog.get("sources") or {}).items():
        try:
            now = source_hash(os.path.join(root, rel))
        except OSError:
            now = ""
        if now != digest:
            notes.append(f"{rel} changed since the run was recorded; replaying anyway, checking "
                         "every decision")
    recorded_python = (h.get("python") or {}).get("version")
    if recorded_python != platform.python_version():
        notes.append(f"recorded with Python {recorded_python}, replaying with {platform.python_version()}: "
                     "text the interpreter itself writes (tracebacks, warnings) may differ")
    if hash_seed is None:
        hash_seed = hash_seed_now()
    if hash_seed != h.get("hash_seed"):
        current = "random" if hash_seed is None else hash_seed
        notes.append(f"this interpreter's hash seed ({current}) is not the recorded "
                     f"{h.get('hash_seed')}: set and string hashing may differ")
    if not quiet:
        for note in notes:
            report.write(f"interlace: note: {note}\n")
    strat = CheckingReplay(rec, root, until)
    channel = Channel(REPLAY, recorded=rec.inputs, record_files=bool(h.get("record_files")))
    strat.channel = channel
    cwd = os.getcwd()
    modules = set(sys.modules) if fresh_modules else None
    try:
        if os.path.isdir(prog.get("cwd", "")):
            os.chdir(prog["cwd"])
        ex, outcome = _execute(program, strat, channel, model=h.get("model", "free-threaded"),
                               max_steps=int(h.get("max_steps", 1_000_000)), epoch=float(h["epoch"]),
                               random_seed=int(h["random_seed"]), races=h.get("races", "warn"),
                               stdout=stdout, stderr=stderr)
    finally:
        os.chdir(cwd)
        if modules is not None:
            for name in set(sys.modules) - modules:
                del sys.modules[name]
    outcome.notes = notes
    outcome.decisions = strat.position
    outcome.path = path
    divergence = strat.divergence or channel.divergence
    if divergence is None and ex.failure is not None and ex.failure.kind == "divergence":
        divergence = ex.failure.message
    if strat.ended:
        outcome.ended_early = True
        outcome.divergence = None
        outcome.outcome = "interrupted"
        if not quiet:
            report.write(f"interlace: {strat.divergence}.\n")
        return outcome
    if divergence is None and rec.complete:
        left = len(rec.decisions) - strat.position
        if left > 0:
            nxt = rec.decisions[strat.position]
            divergence = (f"the program ended after {strat.position} decisions, but the recording has "
                          f"{len(rec.decisions)} (the next one runs thread "
                          f"#{rec.decisions[strat.position].tid} "
                          f"at {strat._place(nxt.site, nxt.op)})")
        elif channel.remaining():
            tid, queue = next((t, q) for t, q in channel.queues.items() if q)
            divergence = (f"the program ended without reading {channel.remaining()} recorded "
                          "input(s); the first "
                          f"is {queue[0][0]} of thread #{tid}")
    if divergence is not None:
        outcome.divergence = divergence
        outcome.exit_code = EXIT_DIVERGED
        outcome.outcome = "divergence"
        report.write(f"interlace: the program diverged from the recording {divergence}. The program or its "
                     "environment changed since the run was recorded; run it again to get a fresh "
                     "recording.\n")
        return outcome
    if ex.failure is not None:
        report.write(_failure_report(ex))
    for line in outcome.races:
        report.write(f"interlace: race: {line}\n")
    end = rec.end or {}
    if not quiet and rec.complete:
        same = (end.get("exit_code") == outcome.exit_code and end.get("outcome") == outcome.outcome
                and end.get("stdout_sha256") == outcome.stdout_sha
                and end.get("stderr_sha256") == outcome.stderr_sha
                and list(end.get("races", [])) == outcome.races)
        if same:
            report.write(f"interlace: replayed {path}: same output, outcome ({outcome.outcome}) and "
                         "exit code "
                         f"({outcome.exit_code}) as the recorded run.\n")
        else:
            differs = [what for what, same_part in (
                ("exit code", end.get("exit_code") == outcome.exit_code),
                ("outcome", end.get("outcome") == outcome.outcome),
                ("stdout", end.get("stdout_sha256") == outcome.stdout_sha),
                ("stderr", end.get("stderr_sha256") == outcome.stderr_sha),
                ("race reports", list(end.get("races", [])) == outcome.races)) if not same_part]
            listed = differs[0] if len(differs) == 1 else f"{', '.join(differs[:-1])} and {differs[-1]}"
            verb = "differs" if len(differs) == 1 and differs[0] != "race reports" else "differ"
            report.write(f"interlace: replayed {path}, but its {listed} {verb} from the recorded "
                         f"run (recorded: {end.get('outcome')}, exit code {end.get('exit_code')}; now: "
                         f"{outcome.outcome}, exit code {outcome.exit_code}).\n")
    return outcome


def _free_threaded() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return check is not None and not check()


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


# -- child interpreters ----------------------------------------------------------------------------------

_CHILD_CODE = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
               "from interlace.run import child_main; sys.exit(child_main(sys.argv.pop(1)))")


def spawn(request: dict[str, Any], hash_seed: int) -> int:
    """Run ``request`` (see :func:`child_main`) in a child interpreter started with ``hash_seed``."""
    env = dict(os.environ)
    request = dict(request, restore_hash_seed=os.environ.get("PYTHONHASHSEED"))
    env["PYTHONHASHSEED"] = str(hash_seed)
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-c", _CHILD_CODE, _PACKAGE_ROOT, json.dumps(request)]
    child = subprocess.Popen(command, env=env)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got the signal too (same process group): it decides how to end


def child_main(request_json: str) -> int:
    """Entry point of the child interpreter: one ``record`` or ``replay``."""
    request = json.loads(request_json)
    restore = request.pop("restore_hash_seed", None)
    if restore is None:
        os.environ.pop("PYTHONHASHSEED", None)
    else:
        os.environ["PYTHONHASHSEED"] = restore
    hash_seed = int(request.pop("hash_seed_expected"))
    action = request.pop("action")
    return run_request(action, request, hash_seed)


def run_request(action: str, request: dict[str, Any], hash_seed: int | None = None) -> int:
    from .recording import RecordingError

    try:
        if action == "record":
            outcome = record(hash_seed=hash_seed, **request)
        else:
            outcome = replay(hash_seed=hash_seed, **request)
    except (RunError, RecordingError) as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.flush()
    return outcome.exit_code


def hash_seed_now() -> int | None:
    value = os.environ.get("PYTHONHASHSEED", "")
    return int(value) if value.isdigit() else None


def run_command(action: str, request: dict[str, Any], hash_seed: int) -> int:
    """Record or replay with ``hash_seed``: here if this interpreter already has it, else in a child."""
    if hash_seed_now() == hash_seed:
        return run_request(action, request, hash_seed)
    return spawn(dict(request, action=action, hash_seed_expected=hash_seed), hash_seed)


__all__ = ["RunOutcome", "RunError", "record", "replay", "run_command", "spawn"]


# -- command line ------------------------------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    """``interlace run`` and ``interlace show`` (``replay`` options are added by "
      ":func:`add_replay_options`)."""
    from .strategies import STRATEGIES

    rn = sub.add_parser("run", help="run a program once under the controlled scheduler and record the run")
    rn.add_argument("-m", dest="module", default=None, metavar="MODULE", help="run a module, like python -m")
    rn.add_argument("--record", dest="path", default=None, metavar="FILE",
                    help="where to write the recording (default .interlace/recordings/<script>-<time>.ilr)")
    rn.add_argument("--keep", choices=KEEP, default="failing",
                    help="which recordings to keep: failing runs (default), all, none")
    rn.add_argument("--force", action="store_true", help="overwrite an existing recording file")
    rn.add_argument("--seed", type=int, default=None, help="scheduler seed (default: a fresh random one)")
    rn.add_argument("--strategy", choices=sorted(STRATEGIES), default="random", help="default: random")
    rn.add_argument("--model", choices=["free-threaded", "gil"], default="free-threaded")
    rn.add_argument("--max-steps", type=int, default=1_000_000, help="step bound (a possible livelock)")
    rn.add_argument("--races", choices=["warn", "off"], default="warn", help="report data races (default)")
    rn.add_argument("--record-files", action="store_true",
                    help="record the content of files the program reads (default: only their SHA-256)")
    rn.add_argument("--hash-seed", type=int, default=None,
                    help="PYTHONHASHSEED for the run (default: a fresh random one)")
    rn.add_argument("-q", "--quiet", action="store_true", help="print nothing of interlace's own")
    rn.add_argument("--detect-only", action="store_true",
                    help="no scheduler, no recording: run real threads at native speed and report data races "
                         "and lock-order inversions (for programs too large to explore)")
    rn.add_argument("script", nargs="?", default=None, help="the Python script to run")
    rn.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")

    sh = sub.add_parser("show", help="summarise a recording")
    sh.add_argument("recording", help="a .ilr file written by `interlace run`")
    sh.add_argument("--inputs", action="store_true", help="also list the recorded inputs")
    sh.add_argument("--decisions", action="store_true", help="also list the recorded decisions")


def add_replay_options(parser: Any) -> None:
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="recordings: stop at scheduling step STEP and open pdb in the running thread")
    parser.add_argument("-q", "--quiet", action="store_true", help="recordings: print nothing of "
                                                                   "interlace's own")


def is_recording(path: str) -> bool:
    if path.endswith(".ilr"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC[:4]
    except OSError:
        return False


def cli_run(options: Any) -> int:
    args = list(options.args)
    if args and args[0] == "--":
        args = args[1:]
    script = options.script
    if options.module:
        if script is not None:
            args = [script, *args]
        script = None
    elif script is None:
        print("interlace: run needs a SCRIPT (or -m MODULE) to run.", file=sys.stderr)
        return EXIT_USAGE
    try:
        program_path, _ = resolve_program(script, options.module)
        Program(program_path, args)  # syntax errors are usage errors, reported before anything runs
        if options.path is not None and os.path.exists(options.path) and not options.force:
            raise RunError(f"{options.path!r} already exists; interlace never overwrites a recording. Pass "
                           "--force to replace it, or choose another --record path.")
    except RunError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if options.detect_only:
        return _detect_only(program_path, args)
    hash_seed = options.hash_seed if options.hash_seed is not None else random.SystemRandom().randrange(2**32)
    request = {"script": script, "args": args, "module": options.module, "path": options.path,
               "force": options.force, "keep": options.keep, "seed": options.seed,
               "strategy": options.strategy,
               "model": options.model, "max_steps": options.max_steps, "races": options.races,
               "record_files": options.record_files, "quiet": options.quiet}
    return run_command("record", request, hash_seed)


def _detect_only(program_path: str, args: list[str]) -> int:
    """``interlace run --detect-only``: the program runs as usual; races are reported at the end."""
    from .detect.native import detect
    from .script import ScriptRunner

    result = detect(ScriptRunner(program_path, args, capture=False))
    found = [r for r in result.races if not r.suppressed] + list(result.lock_inversions)
    failure = result.failure
    if failure is not None and failure.kind == "exception":
        print(failure.traceback.rstrip(), file=sys.stderr)
    for item in found:
        print("\n" + item.format(), file=sys.stderr)
    if result.suppressed_races:
        print(f"\n({result.suppressed_races} race report(s) suppressed)", file=sys.stderr)
    if found:
        print(f"\ninterlace: {len(found)} problem(s) found with real threads (detector-only mode).", file=sys.stderr)
    return EXIT_FAILURE if failure is not None else EXIT_OK


def cli_replay(options: Any) -> int:
    from .recording import RecordingError

    path = options.schedule
    try:
        rec = load(path)
    except RecordingError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    hash_seed = rec.header.get("hash_seed")
    request = {"path": path, "until": options.until, "quiet": options.quiet}
    if not isinstance(hash_seed, int):
        hash_seed = 0
    return run_command("replay", request, hash_seed)


def cli_show(options: Any) -> int:
    from .recording import RecordingError

    try:
        rec = load(options.recording)
    except RecordingError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(summary(rec, inputs=options.inputs, decisions=options.decisions), end="")
    return EXIT_OK


def summary(rec: Recording, inputs: bool = False, decisions: bool = False) -> str:
    from collections import Counter

    h = rec.header
    prog = h.get("program", {})
    py = h.get("python", {})
    plat = h.get("platform", {})
    end = rec.end
    lines = [f"recording  {rec.path} ({rec.size} bytes, format version {h.get('format_version', 1)})"]
    target = f"-m {prog.get('module')}" if prog.get("module") else prog.get("path")
    lines.append(f"program    {target} {' '.join(prog.get('args', []))}".rstrip())
    lines.append(f"cwd        {prog.get('cwd')}")
    for rel, digest in (prog.get("sources") or {}).items():
        lines.append(f"source     {rel} sha256 {digest[:16]}")
    lines.append(f"versions   interlace {h.get('interlace')}, {py.get('implementation')} "
                 f"{py.get('version')}, "
                 f"{plat.get('system')} {plat.get('machine')}")
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.get("created", 0)))
    lines.append(f"recorded   {created}")
    lines.append(f"scheduler  {h.get('strategy')} seed {h.get('seed')}, model {h.get('model')}, "
                 f"hash seed {h.get('hash_seed')}")
    kinds = Counter(kind for _, kind, _ in rec.inputs if not kind.endswith(".wait"))
    lines.append(f"decisions  {len(rec.decisions)}" + (f" ({rec.size / len(rec.decisions):.1f} bytes each, "
                 "whole file)" if rec.decisions else ""))
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    lines.append(f"inputs     {sum(kinds.values())}" + (f" ({by_kind})" if kinds else ""))
    lines.append(f"threads    {', '.join(rec.threads[t] for t in sorted(rec.threads)) or 'main only'}")
    if end is None:
        lines.append("outcome    unknown: the recording has no end (the run was killed or interrupted); "
                     "it replays up to where it stops")
    else:
        lines.append(f"duration   {end.get('duration', 0):.3f}s")
        outcome = end.get("outcome")
        message = str(end.get("message") or "")
        text = message if message.startswith(f"{outcome}:") else f"{outcome}: {message}" if message else outcome
        lines.append(f"outcome    {text} (exit code {end.get('exit_code')}"
                     f"{', failing' if end.get('failing') else ''})")
        for exc in end.get("thread_exceptions", []):
            lines.append(f"exception  in thread {exc}")
        for race in end.get("races", []):
            lines.append(f"race       {race}")
    if inputs:
        lines.append("inputs (per thread, in order):")
        for tid, kind, value in rec.inputs:
            name = rec.threads.get(tid, "MainThread" if tid == 0 else f"#{tid}")
            text = repr(value)
            if len(text) > 100:
                text = text[:97] + "..."
            lines.append(f"  {name:<20} {kind:<22} {text}")
    if decisions:
        lines.append("decisions:")
        for i, d in enumerate(rec.decisions, 1):
            where = f"{d.site[0]}:{d.site[1]}" if d.site else "?"
            name = rec.threads.get(d.tid, f"#{d.tid}")
            lines.append(f"  {i:>6} {name:<20} {where:<28} {d.op or ''}")
    return "\n".join(lines) + "\n"
