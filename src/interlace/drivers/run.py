"""One recorded run of a whole program (``interlace run``), and its replay (``interlace replay FILE.ilr``).

A run executes the program once under the controlled scheduler with a fresh seed, like ``python
SCRIPT`` would (live output, thread exceptions printed and the program going on, its exit code), and
streams to a recording every scheduling decision -- the thread chosen, its source location and the
operation it is about to do -- and every nondeterministic input (:mod:`interlace.inputs`).

A replay runs the same program with the recorded decisions and inputs: no peer, process or terminal is
needed. Each decision is checked against the program (thread, location, operation, who could run) and
each input against what the program asks for; the first mismatch stops the replay with a divergence.

``PYTHONHASHSEED`` is fixed when an interpreter starts, so the command line runs the program in a
child interpreter started with the recorded hash seed (:mod:`interlace.drivers.child`). The parts of a run
live next to this driver: the program (:mod:`interlace.recording.program`), the strategies that write
and check decisions (:mod:`interlace.recording.decisions`), the command line (:mod:`interlace.cli.run`).
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..recording import Recording, RecordingWriter, load
from ..recording.decisions import CheckingReplay, RecordingStrategy
from ..recording.program import HEAD_CHARS, Program, RunError, Tee, format_exception, resolve_program, source_hash
from ..runtime.calls import schedule_like
from ..runtime.execution import HANG_GUARD
from ..runtime.watchdog import STUCK_AFTER, interrupts
from ..strategies.base import Strategy
from .progress import RunProgress

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
KEEP = ("failing", "all", "none")
_real_time = time.time
_real_perf = time.perf_counter
_real_getpid = os.getpid  # (a recorded run's os.getpid is one of its inputs)


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
    stdout_head: str = ""  # the first HEAD_CHARS characters, to show where a replay differs
    stderr_head: str = ""
    path: str = ""
    notes: list[str] = field(default_factory=list)
    shown: set[str] = field(default_factory=set)  # races already printed while the program ran
    result: Any = None  # an explore.Result of the run, for the HTML report (replay --html)

    def end_record(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "outcome": self.outcome, "message": self.message,
                "failing": self.failing, "thread_exceptions": list(self.thread_exceptions),
                "races": list(self.races), "decisions": self.decisions, "inputs": self.inputs,
                "duration": round(self.duration, 6), "stdout_sha256": self.stdout_sha,
                "stderr_sha256": self.stderr_sha, "stdout_head": self.stdout_head,
                "stderr_head": self.stderr_head}


def _execute(program: Program, strategy: Strategy, channel: Any, *, model: str, max_steps: int | None, epoch: float,
             random_seed: int, races: str, stdout: Any = None, stderr: Any = None,
             for_report: bool = False, progress: bool = False,
             stuck_timeout: float = STUCK_AFTER, hang_guard: float | None = HANG_GUARD) -> tuple[Any, RunOutcome]:
    """Run ``program`` once under ``strategy`` with the inputs of ``channel`` installed.

    ``for_report``: note the values read and the hand-offs, and put a Result in ``outcome.result``.
    ``progress``: show the steps and their rate on interlace's stream while it runs (a terminal only).
    """
    import threading

    from ..inputs import randomness
    from ..runtime import hooks
    from ..runtime.state import Abort as _Abort
    from .session import Session

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
    shown: set[str] = set()
    report = stderr if stderr is not None else sys.stderr

    live = RunProgress(report) if progress else None

    def race_found(race: Any) -> None:
        """Print a race when it is first seen (to interlace's stream, not the program's)."""
        line = race.summary()
        if line not in shown:
            shown.add(line)
            if live is not None:
                live.clear()
            report.write(f"interlace: race: {line}\n")
            report.flush()

    with Session(program, (), (), races=races, exit_fails=False, blocking=False,
                 stuck_timeout=stuck_timeout, hang_guard=hang_guard) as session:
        if session.race_detector is not None:
            session.race_detector.on_race = race_found
        runtime_hook = threading.excepthook
        channel.install()
        threading.excepthook = excepthook
        randomness.seed_global(random_seed)
        sys.stdout, sys.stderr = out, err
        try:
            strategy.begin(0)
            ex = session.run(strategy, model, max_steps, epoch=epoch, capture_values=for_report)
        finally:
            if live is not None:
                live.close()
            sys.stdout, sys.stderr = saved_streams
            threading.excepthook = runtime_hook
            channel.uninstall()
        found, inversions = session.new_findings()
        handoffs = session.handoffs_of(ex)
    sys.unraisablehook = runtime_unraisable
    duration = _real_perf() - started
    races_found = [r.summary() for r in found if r.fails] + [i.summary() for i in inversions]
    outcome = RunOutcome(exit_code=program.exit_code, outcome="ok", thread_exceptions=thread_exceptions,
                         races=races_found, shown=shown, duration=duration, stdout_sha=out.digest(),
                         stderr_sha=err.digest(), stdout_head=out.head(), stderr_head=err.head())
    failure = ex.failure
    if failure is not None and failure.kind == "interrupted":
        outcome.outcome, outcome.message, outcome.exit_code = "interrupted", failure.message, EXIT_INTERRUPTED
    elif failure is not None and failure.kind != "divergence":
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
    if for_report:
        from ..runtime.state import Failure
        from .result import Result

        shown = failure if failure is not None and failure.kind != "divergence" else (
            Failure("exception", outcome.message) if outcome.failing else None)
        outcome.result = Result(
            ok=not outcome.failing, executions=1, seed=None, strategy="replay", model=model, elapsed=duration,
            failure=shown, trace=ex.trace, threads=[t.name for t in ex.threads], races=found,
            lock_inversions=inversions, handoffs=handoffs)
    return ex, outcome


def _exit_place() -> str:
    """`` in thread 'T' at file.py:LINE`` for the managed thread calling ``os._exit``, if it is one."""
    from ..runtime import hooks

    ex = hooks._active
    me = ex.me() if ex is not None else None
    if me is None:
        return ""
    thread = "the main thread" if me.tid == 0 else f"thread {me.name!r}"
    site = me.site
    return f" in {thread}" + (f" at {os.path.basename(site[0])}:{site[1]}" if site else "")


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
           force: bool = False, keep: str = "failing", seed: int | None = None, strategy: str = "timeslice",
           model: str = "free-threaded", max_steps: int | None = None, races: str = "warn",
           record_files: bool = False, hash_seed: int | None = None, quiet: bool = False,
           stdout: Any = None, stderr: Any = None, stuck_timeout: float = STUCK_AFTER,
           record_secrets: bool = False, hang_guard: float | None = HANG_GUARD) -> RunOutcome:
    """Run the program once, recording it; in the current interpreter (see :func:`spawn`)."""
    from .. import __version__
    from ..inputs import RECORD, Channel
    from ..strategies import make_strategy

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
        "max_steps": max_steps, "hang_guard": hang_guard, "hash_seed": hash_seed, "random_seed": random_seed,
        "epoch": epoch,
        "races": races, "record_files": record_files, "created": _real_time(),
        "record_secrets": record_secrets, "secret_salt": os.urandom(16).hex(),
    }
    writer = RecordingWriter(path, header, force=force, root=root)
    channel = Channel(RECORD, writer=writer, record_files=record_files)
    channel.record_secrets, channel.salt = record_secrets, header["secret_salt"]
    recorder = RecordingStrategy(strat, writer)
    recorder.on_freeze = lambda: setattr(channel, "frozen", True)
    real_exit = os._exit
    recording_pid = _real_getpid()

    def hard_exit(code: int) -> None:
        """``os._exit`` in the program: end the recording first (the process ends without cleanup). Not in
        a forked child (a fork-context Pool's worker ends with ``os._exit``): the recording is the parent's."""
        try:
            if not writer.closed and _real_getpid() == recording_pid:
                from ..runtime import hooks

                if hooks._active is not None:
                    hooks._active.settle()
                message = f"os._exit({code})" + _exit_place()
                writer.end(RunOutcome(exit_code=code, outcome="os._exit", message=message,
                                      failing=code != 0, decisions=writer.decisions,
                                      inputs=writer.inputs).end_record())
                writer.close()
                if not quiet:
                    out = stderr or sys.stderr
                    out.write(f"interlace: the run ended with {message}; recorded {writer.decisions} decisions "
                              f"and {writer.inputs} inputs to {path}.\n"
                              f"interlace: replay it: interlace replay {_quote(path)}\n")
                    out.flush()
        finally:
            real_exit(code)

    schedule_like(hard_exit, "os")  # a scheduling point like the real one, which the replay calls
    os._exit = hard_exit
    try:
        with interrupts():  # Ctrl-C ends the run cleanly; the recording replays up to that point
            ex, outcome = _execute(program, recorder, channel, model=model, max_steps=max_steps, epoch=epoch,
                                   random_seed=random_seed, races=races, stdout=stdout, stderr=stderr,
                                   stuck_timeout=stuck_timeout, hang_guard=hang_guard, progress=not quiet)
        outcome.decisions, outcome.inputs = writer.decisions, writer.inputs
        if recorder.frozen:  # the program got KeyboardInterrupt (Ctrl-C) and ended as it would
            outcome.outcome, outcome.failing = "interrupted", False
        if ex.failure is not None and ex.failure.kind != "interrupted":
            (stderr or sys.stderr).write(_failure_report(ex))
        writer.end(outcome.end_record())
    finally:
        os._exit = real_exit
        writer.close()
    outcome.path = path
    report = stderr or sys.stderr
    for line in outcome.races:
        if line not in outcome.shown:
            report.write(f"interlace: race: {line}\n")
    interrupted = outcome.outcome == "interrupted"
    # a run whose program ended well but that found a race able to break it is kept too: the recording is
    # how that race is replayed
    kept = keep == "all" or (keep == "failing" and (outcome.failing or bool(outcome.races) or interrupted))
    if not kept:
        os.unlink(path)
        outcome.path = ""
    if not quiet and interrupted:
        report.write(f"interlace: the run was interrupted (Ctrl-C) after {outcome.decisions} decisions"
                     + (f"; recorded to {path}; it replays up to that point: interlace replay {_quote(path)}\n"
                        if kept else ".\n"))
    elif not quiet:
        if outcome.failing:
            what = f"failed ({outcome.outcome}: {outcome.message})"
        elif outcome.races:
            what = f"ran without failure but found {len(outcome.races)} race(s) or lock-order inversion(s)"
        else:
            what = "ran without failure"
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
           hash_seed: int | None = None, html: str | None = None, salvage: bool = False) -> RunOutcome:
    """Replay a recording in the current interpreter. ``RecordingError`` if the file is unusable.

    ``html``: also write the HTML timeline of the replayed run there. ``salvage``: a file whose last
    frame is cut short replays up to its intact frames (see :func:`interlace.recording.load`).
    """
    from ..inputs import REPLAY, Channel

    rec = recording if recording is not None else load(path, salvage=salvage)
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
    if rec.truncated_at is not None:
        notes.append(f"the recording is cut short at byte {rec.truncated_at} of {rec.size}: replaying the "
                     f"{len(rec.decisions)} decision(s) before it")
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
    channel = Channel(REPLAY, recorded=rec.inputs, record_files=bool(h.get("record_files")),
                      complete=rec.complete)
    channel.salt = str(h.get("secret_salt", ""))
    strat.channel = channel
    cwd = os.getcwd()
    modules = set(sys.modules) if fresh_modules else None
    real_exit = os._exit
    end = rec.end or {}
    replaying_pid = _real_getpid()

    def replayed_exit(code: int) -> None:
        """``os._exit`` in the replayed program: say so (the process ends without cleanup); not in a forked
        child (a fork-context Pool's worker)."""
        if not quiet and _real_getpid() == replaying_pid:
            same = end.get("outcome") == "os._exit" and end.get("exit_code") == code
            report.write(f"interlace: the replay reached os._exit({code}){_exit_place()}"
                         f"{', as the recorded run did' if same else ''}.\n")
            report.flush()
        real_exit(code)

    schedule_like(replayed_exit, "os")
    os._exit = replayed_exit
    try:
        if os.path.isdir(prog.get("cwd", "")):
            os.chdir(prog["cwd"])
        ex, outcome = _execute(program, strat, channel, model=h.get("model", "free-threaded"),
                               max_steps=h.get("max_steps"), epoch=float(h["epoch"]),
                               # a recording from before hang guards: every timeout could end early
                               hang_guard=h.get("hang_guard"),
                               random_seed=int(h["random_seed"]), races=h.get("races", "warn"),
                               stdout=stdout, stderr=stderr, for_report=html is not None,
                               progress=not quiet)
    finally:
        os._exit = real_exit
        os.chdir(cwd)
        if modules is not None:
            for name in set(sys.modules) - modules:
                del sys.modules[name]
    outcome.notes = notes
    outcome.decisions = strat.taken
    outcome.path = path
    if html is not None and outcome.result is not None:
        from ..report.command import write_html

        where = write_html(outcome.result, html, f"interlace replay {_quote(path)}")
        if not quiet:
            report.write(f"interlace: HTML report: {where}\n")
    divergence = strat.divergence or channel.divergence
    if divergence is None and ex.failure is not None and ex.failure.kind == "divergence":
        divergence = ex.failure.message
    if strat.ended or channel.ended:
        outcome.ended_early = True
        outcome.divergence = None
        outcome.outcome = "interrupted"
        if not quiet:
            report.write(f"interlace: {strat.divergence if strat.ended else channel.ended}.\n")
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
        if line not in outcome.shown:
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
            for stream in ("stdout", "stderr"):
                if stream in differs:
                    where = first_difference(end.get(f"{stream}_head"), getattr(outcome, f"{stream}_head"))
                    if where:
                        report.write(f"interlace: {stream} {where}\n")
    return outcome


def first_difference(recorded: str | None, now: str) -> str:
    """Where two outputs part, for people: ``first differs at line 3: recorded '...', now '...'``.

    Only the first :data:`HEAD_CHARS` characters of each are kept, so a later difference is only said
    to lie beyond them. Empty when the recording predates the kept text.
    """
    if recorded is None:
        return ""
    old, new = recorded.splitlines(), now.splitlines()
    for number, (a, b) in enumerate(zip(old, new, strict=False), 1):  # the shorter one ends first
        if a != b:
            return f"first differs at line {number}: recorded {_clip(a)}, now {_clip(b)}"
    if len(old) != len(new):
        number = min(len(old), len(new)) + 1
        shorter = "the recorded run's ends" if len(old) < len(new) else "it ends"
        extra = new[number - 1] if len(old) < len(new) else old[number - 1]
        return f"first differs at line {number}: {shorter} before {_clip(extra)}"
    if len(recorded) < HEAD_CHARS and len(now) < HEAD_CHARS:
        return "differs only in its line endings"
    return f"first differs after its first {HEAD_CHARS:,} characters (only those are kept)"


def _clip(line: str, limit: int = 80) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "...")


def _free_threaded() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return check is not None and not check()


def _quote(path: str) -> str:
    import shlex

    return shlex.quote(path)



def hash_seed_now() -> int | None:
    value = os.environ.get("PYTHONHASHSEED", "")
    return int(value) if value.isdigit() else None


__all__ = ["RunOutcome", "RunError", "record", "replay"]
