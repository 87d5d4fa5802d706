"""Command line: ``interlace explore SCRIPT`` and ``interlace replay FILE``.

Exit codes (:data:`EXIT_CODES`): 0 no failure, 1 failure found (or reproduced), 2 usage or input
error, 3 the program diverged from the schedule being replayed, 4 an internal error of interlace,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Sequence

from ..drivers.script import (
    NOT_REPRODUCED,
    UsageError,
    diverged,
    load_script_schedule,
    program_and_args,
    races_mode,
    script_runner,
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_PIPE = 141  # as a shell reports a command that a closed pipe ended (128 + SIGPIPE)
EXIT_CODES = ("exit codes: 0 no failure, 1 a failure found (or reproduced by replay), 2 usage or input error, "
              "3 the program diverged from the schedule or recording being replayed, 4 an internal error of "
              "interlace (please report it), 130 interrupted (Ctrl-C), 141 the output's reader went away "
              "(interlace ... | head)")


def _parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..strategies import STRATEGIES

    parser = argparse.ArgumentParser(
        prog="interlace",
        description="Run threaded Python under a controlled scheduler to find and replay race conditions.",
        epilog=EXIT_CODES[0].upper() + EXIT_CODES[1:] + ".",
    )
    parser.add_argument("--version", action="version", version=f"interlace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ex = sub.add_parser("explore", help="run a script under many interleavings until one fails",
                        epilog=EXIT_CODES[0].upper() + EXIT_CODES[1:] + ".")
    ex.add_argument("-n", "--executions", type=int, default=1000, help="how many executions (default 1000)")
    ex.add_argument("--strategy", choices=sorted(STRATEGIES), default="portfolio", help="default: portfolio")
    ex.add_argument("--seed", type=int, default=None, help="seed for the strategy (default: random)")
    ex.add_argument("--depth", type=int, default=3, help="PCT bug depth (default 3)")
    ex.add_argument("--max-preemptions", type=int, default=None, metavar="N",
                    help="with --strategy dfs: run every schedule with at most N preemptions, then stop "
                         "(default: no bound; bounds 0, 1, 2, ... in turn)")
    ex.add_argument("--model", choices=["free-threaded", "gil"], default="free-threaded",
                    help="where threads may switch (default: free-threaded, at every shared access)")
    ex.add_argument("--max-steps", type=int, default=None,
                    help="fail an execution after this many scheduling points (default: no bound; a livelock "
                         "is judged by progress)")
    ex.add_argument("--time-limit", type=float, default=None, help="stop exploring after this many seconds")
    ex.add_argument("--stuck-timeout", type=float, default=10.0, metavar="SECONDS",
                    help="report a thread that reaches no scheduling point for this long as stuck (default 10)")
    from .run import add_hang_guard_option, add_parsers, add_replay_options

    add_hang_guard_option(ex)
    ex.add_argument("--include", action="append", default=[], metavar="PATTERN",
                    help="also instrument modules matching PATTERN (fnmatch on module names)")
    ex.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                    help="do not instrument modules matching PATTERN")
    ex.add_argument("-o", "--output", default=None, help="where to save the failing schedule")
    ex.add_argument("--races", choices=["error", "warn", "off"], default="error",
                    help="data races and lock-order inversions: fail (default), only report, or do not detect")
    ex.add_argument("--json", action="store_true", help="print the result as JSON instead of the report")
    ex.add_argument("--no-shrink", dest="shrink", action="store_false",
                    help="keep the failing schedule as found (default: shrink it to fewer preemptions)")
    ex.add_argument("--html", default=None, metavar="OUT.html",
                    help="also write an HTML timeline of the failure")
    ex.add_argument("--workers", default=None, metavar="N",
                    help="run the executions in N worker processes ('auto': one per core); the seed decides "
                         "the result, not N")
    ex.add_argument("--dask", default=None, metavar="tcp://HOST:PORT",
                    help="run the executions on this Dask cluster (pip install 'interlace[dask]')")
    ex.add_argument("-m", dest="module", default=None, metavar="MODULE",
                    help="explore a module run as the main program, like python -m")
    ex.add_argument("script", nargs="?", default=None, help="the Python script to run")
    ex.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")

    rp = sub.add_parser("replay", help="re-run a saved schedule or a recording (.ilr) exactly")
    rp.add_argument("schedule", help="a schedule file written by `interlace explore`, or a .ilr recording")
    add_replay_options(rp)
    add_parsers(sub)

    from .campaign import add_parser as add_campaign

    add_campaign(sub, sorted(STRATEGIES))

    rep = sub.add_parser("report", help="re-run a saved schedule and write its report (text, HTML)")
    rep.add_argument("schedule", help="a schedule file written by `interlace explore`")
    rep.add_argument("--html", default=None, metavar="OUT.html", help="write the HTML timeline here")
    return parser


def _split_script_args(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Let interlace's own options stand before or after ``SCRIPT [ARGS...]``.

    ``interlace explore prog.py -n 100 --flag`` gives ``-n 100`` to interlace and ``--flag`` to the
    script; everything after a literal ``--`` goes to the script untouched.
    """
    if not argv or argv[0] not in ("explore", "run"):
        return argv
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    explore = sub.choices[argv[0]]
    arity = {}
    for action in explore._actions:
        for flag in action.option_strings:
            arity[flag] = 0 if action.nargs == 0 else 1
    ours: list[str] = []
    script: list[str] = []
    i = 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            script += argv[i + 1:]
            break
        flag = token.split("=", 1)[0]
        if flag in arity and (not script or flag not in ("-h", "--help")):
            n = 0 if "=" in token else arity[flag]
            ours += argv[i:i + 1 + n]
            i += 1 + n
            continue
        script.append(token)
        i += 1
    return [argv[0], *ours, "--", *script] if script else [argv[0], *ours]


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if argv is None:  # the command itself (not a call from Python): end now if a thread is stuck in C
        from ..runtime.watchdog import exit_if_threads_abandoned

        exit_if_threads_abandoned(code)
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parser.parse_args(_split_script_args(parser, argv))
    if options.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if options.command == "explore":
            return _explore(options)
        if options.command == "campaign":
            from .campaign import cli_campaign

            return cli_campaign(options)
        if options.command == "report":
            from .report import report_command

            return report_command(options)
        if options.command in ("run", "show"):
            from .run import cli_run, cli_show

            return cli_run(options) if options.command == "run" else cli_show(options)
        from .run import cli_replay, is_recording

        if is_recording(options.schedule):
            return cli_replay(options)
        return _replay(options)
    except UsageError as exc:
        print(f"interlace: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterlace: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # what was saved is saved; the rest of the output has no reader (and flushing it at exit would
        # raise again)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except Exception as exc:  # noqa: BLE001 - interlace's own bug: say so, distinctly from a failure found
        from ..drivers.workers import WorkerError

        if isinstance(exc, WorkerError):  # the program cannot run on the workers as it is
            print(f"interlace: {exc}", file=sys.stderr)
            return EXIT_USAGE
        import traceback

        traceback.print_exc()
        print(f"interlace: internal error (exit code {EXIT_INTERNAL}): this is a bug in interlace, not in your "
              "program. Please report it with the traceback above and the command that gave it.",
              file=sys.stderr)
        return EXIT_INTERNAL


def _explore(options: argparse.Namespace) -> int:
    from ..drivers.explore import ExplorationInterrupted, explore

    if options.executions < 1:
        raise UsageError("--executions must be at least 1.")
    if options.max_preemptions is not None:
        if options.strategy != "dfs":
            raise UsageError(f"--max-preemptions bounds the dfs strategy; it does nothing with --strategy "
                             f"{options.strategy}. Add --strategy dfs, or leave --max-preemptions out.")
        if options.max_preemptions < 0:
            raise UsageError("--max-preemptions must be at least 0.")
    options.workers_n = _workers_option(options)
    script, args = program_and_args("explore", options.script, options.module, options.args)
    runner = script_runner(script, args, capture=True, module=options.module)
    from .outputs import check_output

    if options.output is not None:
        check_output(options.output, "-o", "schedule")
    if options.html is not None:
        check_output(options.html, "--html", "html")
    from ..drivers.progress import Progress

    progress = Progress(total=options.executions, enabled=None if not options.json else False)
    try:
        result = _run_explore(explore, options, runner, progress)
    except ExplorationInterrupted as exc:
        result = exc.result
    progress.close()
    if result.interrupted and result.failure is None:
        if options.json:
            print(json.dumps(result.to_dict(), indent=1))
        print(f"interlace: interrupted after {result.executions} execution(s), no failure so far "
              f"(strategy {result.strategy}, seed {result.seed}).", file=sys.stderr)
        return EXIT_INTERRUPTED
    code = _report(options, runner, result)
    if result.interrupted:
        print(f"interlace: interrupted after {result.executions} execution(s); the failure above was found "
              "before (its schedule is saved, not shrunk further).", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


def _run_explore(explore, options: argparse.Namespace, runner, progress):
    return explore(
        runner,
        executions=options.executions,
        strategy=options.strategy,
        seed=options.seed,
        depth=options.depth,
        max_preemptions=options.max_preemptions,
        model=options.model,
        include=options.include,
        exclude=options.exclude,
        max_steps=options.max_steps,
        time_limit=options.time_limit,
        stuck_timeout=options.stuck_timeout,
        hang_guard=options.hang_guard,
        target=runner.target(),
        races=options.races,
        shrink=options.shrink,
        on_execution=progress,
        workers=options.workers_n,
        dask=options.dask,
    )


def _workers_option(options: argparse.Namespace) -> int | str | None:
    """``--workers`` and ``--dask`` checked (a UsageError says what is wrong); the workers to ask for."""
    workers = options.workers
    if workers is not None and workers != "auto" and not (workers.isdigit() and int(workers) >= 1):
        raise UsageError(f"--workers takes a number of worker processes (at least 1) or 'auto', not {workers!r}.")
    if options.dask is not None:
        if workers is not None:
            raise UsageError("--workers and --dask do not go together: the cluster's workers run the executions.")
        from ..drivers.dask_backend import check_dask

        check_dask(options.dask)
    return None if workers is None else workers if workers == "auto" else int(workers)


def _report(options: argparse.Namespace, runner, result) -> int:
    """Print the result of an exploration, save a failing schedule (and HTML); the exit code."""
    if result.ok:
        print(json.dumps(result.to_dict(), indent=1) if options.json else result.report())
        if not options.json and result.coverage_line():
            print(result.coverage_line())
        return EXIT_OK
    path = _save(result.schedule, options.output, runner.path, result)
    from ..report.command import save_extras

    extras = save_extras(result, path, options.html, f"interlace replay {shlex.quote(path)}")
    if options.json:
        doc = result.to_dict()
        doc["schedule_file"] = path
        print(json.dumps(doc, indent=1))
        return EXIT_FAILURE
    if runner.output:
        print("Output of the failing execution:")
        print(_indent(runner.output))
    print(result.report(replay_command=f"interlace replay {shlex.quote(path)}"))
    for line in extras:
        print(line)
    return EXIT_FAILURE


def _save(schedule, output: str | None, script: str, result) -> str:
    if output is None:
        stem = os.path.splitext(os.path.basename(script))[0]
        directory = os.path.join(".interlace", "schedules")
        os.makedirs(directory, exist_ok=True)
        base = os.path.join(directory, f"{stem}-seed{result.seed}-exec{schedule.execution}")
        path, n = base + ".json", 1
        while os.path.exists(path):
            n += 1
            path = f"{base}-{n}.json"
    else:
        path = output  # checked before exploring (outputs.check_output)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(schedule.to_json())
    return os.path.relpath(path) if not os.path.isabs(output or "") else path


def _replay(options: argparse.Namespace) -> int:
    from ..drivers.explore import replay

    schedule, runner = load_script_schedule(
        options.schedule, False, "replay it with interlace.replay(fn, Schedule.load(path)) in Python.")
    if options.html:
        from .outputs import check_output

        check_output(options.html, "--html", "html")
    sys.stdout.flush()
    result = replay(runner, schedule, races=races_mode(schedule))
    sys.stdout.flush()
    if diverged(result):
        return EXIT_DIVERGED
    if options.html:
        from ..report.command import write_html

        where = write_html(result, options.html, f"interlace replay {shlex.quote(options.schedule)}")
        print(f"interlace: HTML report: {where}", file=sys.stderr)
    if result.ok:
        print(NOT_REPRODUCED, file=sys.stderr)
        return EXIT_OK
    print(result.report(), file=sys.stderr)
    return EXIT_FAILURE


def _indent(text: str) -> str:
    return "".join("  | " + line for line in text.splitlines(keepends=True)).rstrip("\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
