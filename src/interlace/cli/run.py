"""The command line of whole-program runs: ``interlace run``, ``interlace replay FILE.ilr``, ``interlace show``.

Argument parsers, the handlers :mod:`interlace.cli` dispatches to, ``run --detect-only`` and the
text of ``show``. Options become a request for :mod:`interlace.drivers.child`; nothing here takes part
in a run, so the driver and the runtime never import it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from typing import Any

from ..drivers.child import run_command
from ..drivers.run import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, KEEP
from ..recording import MAGIC, Recording, RecordingError, load
from ..recording.program import Program, RunError, resolve_program


def add_parsers(sub: Any) -> None:
    """``interlace run`` and ``interlace show`` (``replay`` options are added by "
      ":func:`add_replay_options`)."""
    from ..strategies import STRATEGIES

    rn = sub.add_parser("run", help="run a program once under the controlled scheduler and record the run")
    rn.add_argument("-m", dest="module", default=None, metavar="MODULE", help="run a module, like python -m")
    rn.add_argument("--record", dest="path", default=None, metavar="FILE",
                    help="where to write the recording (default .interlace/recordings/<script>-<time>.ilr)")
    rn.add_argument("--keep", choices=KEEP, default="failing",
                    help="which recordings to keep: failing runs and runs that found a race (default), all, none")
    rn.add_argument("--force", action="store_true", help="overwrite an existing recording file")
    rn.add_argument("--seed", type=int, default=None, help="scheduler seed (default: a fresh random one)")
    rn.add_argument("--strategy", choices=sorted(STRATEGIES), default="timeslice",
                    help="default: timeslice (random slices of growing length: fast on long runs)")
    rn.add_argument("--model", choices=["free-threaded", "gil"], default="free-threaded")
    rn.add_argument("--max-steps", type=int, default=None,
                    help="fail the run after this many scheduling points (default: no bound; a livelock is "
                         "judged by progress)")
    rn.add_argument("--races", choices=["warn", "off"], default="warn", help="report data races (default)")
    rn.add_argument("--record-files", action="store_true",
                    help="record the content of files the program reads (default: only their SHA-256)")
    rn.add_argument("--record-secrets", action="store_true",
                    help="record the values of secret-looking environment variables (KEY, SECRET, TOKEN, "
                         "PASSWORD, ...) in clear (default: a salted hash that only checks them on replay)")
    rn.add_argument("--stuck-timeout", type=float, default=10.0, metavar="SECONDS",
                    help="report a thread that reaches no scheduling point for this long as stuck, 0 for "
                         "never (default 10; a terminal read or a subprocess may always take its time)")
    add_hang_guard_option(rn)
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
    sh.add_argument("--output", action="store_true",
                    help="also print what the run wrote to stdout and stderr (its first 64 Ki characters)")


def add_hang_guard_option(parser: Any) -> None:
    """``--hang-guard SECONDS`` of ``explore`` and ``run`` (see ``interlace.explore``'s ``hang_guard``)."""
    from ..runtime.execution import HANG_GUARD

    parser.add_argument("--hang-guard", type=_hang_guard, default=HANG_GUARD, metavar="SECONDS",
                        help="a wait for another thread (lock, join, Event, Condition, Queue, Barrier) with a "
                             f"timeout of at least this many seconds only guards against a hang: it ends only "
                             f"when no other thread can run; 'none': every timeout may end early, as sleeps and "
                             f"shorter timeouts do (default {HANG_GUARD:g})")


def _hang_guard(text: str) -> float | None:
    from ..drivers.session import parse_hang_guard

    try:
        return parse_hang_guard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_replay_options(parser: Any) -> None:
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="recordings: stop at scheduling step STEP and open pdb in the running thread")
    parser.add_argument("-q", "--quiet", action="store_true", help="recordings: print nothing of "
                                                                   "interlace's own")
    parser.add_argument("--html", default=None, metavar="OUT.html",
                        help="also write the HTML timeline of the replayed run here")
    parser.add_argument("--salvage", action="store_true",
                        help="recordings: replay the intact part of a file whose end was cut short")


def is_recording(path: str) -> bool:
    if path.endswith(".ilr"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC[:4]
    except OSError:
        return False


def cli_run(options: Any) -> int:
    from ..drivers.script import UsageError, program_and_args
    from .outputs import check_output

    try:
        script, args = program_and_args("run", options.script, options.module, options.args)
    except UsageError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        program_path, _ = resolve_program(script, options.module)
        Program(program_path, args)  # syntax errors are usage errors, reported before anything runs
        if options.path is not None and os.path.exists(options.path) and not options.force:
            raise RunError(f"{options.path!r} already exists; interlace never overwrites a recording. Pass "
                           "--force to replace it, or choose another --record path.")
        if options.path is not None:
            check_output(options.path, "--record", "recording")
    except (RunError, UsageError) as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if options.detect_only:
        return _detect_only(program_path, args)
    hash_seed = options.hash_seed if options.hash_seed is not None else random.SystemRandom().randrange(2**32)
    request = {"script": script, "args": args, "module": options.module, "path": options.path,
               "force": options.force, "keep": options.keep, "seed": options.seed,
               "strategy": options.strategy,
               "model": options.model, "max_steps": options.max_steps, "races": options.races,
               "record_files": options.record_files, "quiet": options.quiet,
               "stuck_timeout": options.stuck_timeout, "record_secrets": options.record_secrets,
               "hang_guard": options.hang_guard}
    return run_command("record", request, hash_seed)


def _detect_only(program_path: str, args: list[str]) -> int:
    """``interlace run --detect-only``: the program runs as usual; races are reported at the end."""
    from ..drivers.detect_only import detect
    from ..drivers.script import ScriptRunner

    result = detect(ScriptRunner(program_path, args, capture=False))
    races = [r for r in result.races if not r.suppressed]
    notes = [r for r in races if r.note]
    found = [r for r in races if not r.note] + list(result.lock_inversions)
    failure = result.failure
    if failure is not None and failure.kind == "exception":
        print(failure.traceback.rstrip(), file=sys.stderr)
    for item in found + notes:
        print("\n" + item.format(), file=sys.stderr)
    if result.suppressed_races:
        print(f"\n({result.suppressed_races} race report(s) suppressed)", file=sys.stderr)
    if found:
        print(f"\ninterlace: {len(found)} problem(s) found with real threads (detector-only mode).", file=sys.stderr)
    return EXIT_FAILURE if failure is not None else EXIT_OK


def cli_replay(options: Any) -> int:
    path = options.schedule
    try:
        rec = load(path, salvage=options.salvage)
    except RecordingError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if options.html:
        from .outputs import check_output

        check_output(options.html, "--html", "html")
    hash_seed = rec.header.get("hash_seed")
    request = {"path": path, "until": options.until, "quiet": options.quiet,
               "html": os.path.abspath(options.html) if options.html else None, "salvage": options.salvage}
    if not isinstance(hash_seed, int):
        hash_seed = 0
    return run_command("replay", request, hash_seed)


def cli_show(options: Any) -> int:
    try:
        rec = load(options.recording)
    except RecordingError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(summary(rec, inputs=options.inputs, decisions=options.decisions, output=options.output), end="")
    return EXIT_OK


def summary(rec: Recording, inputs: bool = False, decisions: bool = False, output: bool = False) -> str:
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
    guard = h.get("hang_guard")
    lines.append(f"scheduler  {h.get('strategy')} seed {h.get('seed')}, model {h.get('model')}, "
                 f"hash seed {h.get('hash_seed')}, hang guard {'none' if guard is None else f'{guard:g}s'}")
    kinds = Counter(kind for _, kind, _ in rec.inputs if not kind.endswith(".wait"))
    lines.append(f"decisions  {len(rec.decisions)}" + (f" ({rec.size / len(rec.decisions):.1f} bytes each, "
                 "whole file)" if rec.decisions else ""))
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    lines.append(f"inputs     {sum(kinds.values())}" + (f" ({by_kind})" if kinds else ""))
    lines.append(f"threads    {', '.join(rec.threads[t] for t in sorted(rec.threads)) or 'main only'}")
    from ..inputs.environment import redacted

    hidden = sorted({value[1] for _, kind, value in rec.inputs if kind == "environ" and redacted(value)})
    if hidden:
        lines.append(f"redacted   {len(hidden)} secret-looking environment variable(s), kept as salted hashes "
                     f"(interlace run --record-secrets keeps them): {', '.join(hidden)}")
    elif h.get("record_secrets"):
        lines.append("secrets    recorded in clear (--record-secrets)")
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
    if output:
        for stream in ("stdout", "stderr"):
            head = (end or {}).get(f"{stream}_head")
            if head is None:
                lines.append(f"{stream}: not in this recording (made by an older interlace, or the run did not end)")
                continue
            lines.append(f"{stream}:" + ("" if head else " (nothing)"))
            lines.extend(f"  | {line}" for line in head.splitlines())
    return "\n".join(lines) + "\n"
