"""``interlace report SCHEDULE``: re-run a saved schedule and print (or render) its report."""

from __future__ import annotations

import shlex
import sys
from typing import Any


def report_command(options: Any) -> int:
    """Re-run the schedule in ``options.schedule`` and print its report; ``--html`` writes the timeline.

    Exit codes: 0 report written, 2 usage error, 3 the program diverged from the schedule.
    """
    from ..drivers.script import NOT_REPRODUCED, UsageError, diverged, load_script_schedule, races_mode
    from ..drivers.shrink import record
    from ..report.command import write_html
    from .run import is_recording

    if is_recording(options.schedule):
        from ..recording import RecordingError, load

        try:
            load(options.schedule)
        except RecordingError as exc:
            raise UsageError(str(exc)) from None
        raise UsageError(f"{options.schedule} is a recording of `interlace run`, not a schedule; its report "
                         f"comes from its replay: interlace replay --html OUT.html {shlex.quote(options.schedule)}")
    if options.html:
        from .outputs import check_output

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
