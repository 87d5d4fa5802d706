"""The report side of the command line: ``interlace report FILE [--html OUT.html]``, and the files
``interlace explore`` writes next to a failing schedule (the original schedule, the HTML report)."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any


def original_path(path: str) -> str:
    """``x.json`` -> ``x-original.json``: where the schedule as found (before shrinking) is kept."""
    stem, ext = os.path.splitext(path)
    return f"{stem}-original{ext or '.json'}"


def write_html(result: Any, out: str, replay_command: str | None) -> str:
    from .html import render_html

    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(render_html(result, replay_command=replay_command))
    return out


def save_extras(result: Any, path: str, html_out: str | None, replay_command: str) -> list[str]:
    """Save the original schedule beside the shrunk one and the HTML report; say where, one line each."""
    lines = []
    original = getattr(result, "original_schedule", None)
    if original is not None and result.schedule is not None and original.choices != result.schedule.choices:
        where = original_path(path)
        with open(where, "w", encoding="utf-8") as f:
            f.write(original.to_json())
        lines.append(f"The schedule as found, before shrinking: {where}")
    if html_out:
        lines.append(f"HTML report: {write_html(result, html_out, replay_command)}")
    return lines


def report_command(options: Any) -> int:
    """Re-run the schedule in ``options.schedule`` and print its report; ``--html`` writes the timeline.

    Exit codes: 0 report written, 2 usage error, 3 the program diverged from the schedule.
    """
    from ..run_cli import is_recording
    from ..script import NOT_REPRODUCED, UsageError, diverged, load_script_schedule, races_mode
    from ..shrink import record

    if is_recording(options.schedule):
        from ..recording import RecordingError, load

        try:
            load(options.schedule)
        except RecordingError as exc:
            raise UsageError(str(exc)) from None
        raise UsageError(f"{options.schedule} is a recording of `interlace run`, not a schedule; its report "
                         f"comes from its replay: interlace replay --html OUT.html {shlex.quote(options.schedule)}")
    if options.html:
        from ..outputs import check_output

        check_output(options.html, "--html", "html")
    schedule, runner = load_script_schedule(
        options.schedule, True, "render it in Python with "
        "interlace.report.html.render_html(interlace.replay(fn, Schedule.load(path))).")
    result = record(runner, schedule, races=races_mode(schedule))
    if diverged(result):
        return 3
    replay_command = f"interlace replay {shlex.quote(options.schedule)}"
    if result.failure is None:
        print(NOT_REPRODUCED, file=sys.stderr)
    else:
        print(result.report(replay_command=replay_command))
    if options.html:
        print(f"HTML report: {write_html(result, options.html, replay_command)}")
    return 0
