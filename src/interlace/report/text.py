"""The plain-text failure report: what failed, where, and the interleaving that led there."""

from __future__ import annotations

import linecache
import os
import shutil
import sys
from dataclasses import replace
from typing import Any

from ..runtime.describe import is_internal
from .analysis import analyze, failure_cells, failure_site, location, operation, race_end, span


def format_result(result: Any, replay_command: str | None = None, color: bool | None = None) -> str:
    if result.ok:
        text = (f"interlace: no failure in {result.executions} executions "
                f"(strategy {result.strategy}, seed {result.seed}, model {result.model}, "
                f"{result.elapsed:.2f}s)")
        return text + _uninstrumented(result)
    f = result.failure
    lines = [
        f"interlace found a failure after {result.executions} execution(s) "
        f"(strategy {result.strategy}, seed {result.seed}, model {result.model})",
        "",
        f.message,
    ]
    if f.traceback:
        lines += ["", clean_traceback(f.traceback).rstrip()]
    for block in f.details:
        lines += ["", block.rstrip()]
    color = use_color() if color is None else color
    trace, shown = result.trace, f
    race = next((r for r in result.races if r.fails), None) if f.kind == "race" else None
    end = race_end(trace, result.threads, race) if race is not None else None
    if end is not None:
        trace, shown = trace[:end], replace(f, thread=race.current.thread)  # the run up to its race
    table = interleaving_table(trace, dict(enumerate(result.threads)),
                               decisions=getattr(result, "decisions", None), failure=shown, color=color,
                               width=table_width(color))
    if table:
        lines += ["", table]
    lines += _early_wakes(result)
    shrunk = getattr(result, "shrink", None)
    if shrunk is not None and not shrunk.skipped:
        lines += ["", f"Schedule {shrunk.summary()}."]
    if replay_command:
        lines += ["", f"Replay it: {replay_command}"]
    return "\n".join(lines) + _uninstrumented(result)


def _early_wakes(result: Any) -> list[str]:
    """Why a timed wait ended while other threads could still run: a failure that depends on it is a
    program relying on a delay for an order that no scheduler promises (the others may be slower)."""
    seen: dict[tuple, float] = {}
    for name, seconds, site in getattr(result, "early_wakes", ()):
        seen.setdefault((name, location(site) if site else "?"), seconds)
    if not seen:
        return []
    lines = ["", "Timing: in this interleaving,"]
    for (name, where), seconds in list(seen.items())[:3]:
        lines.append(f"  {name} (at {where}) woke from a sleep or timed wait of {seconds:g}s while other threads "
                     f"could still run")
    if len(seen) > 3:
        lines.append(f"  ... and {len(seen) - 3} more")
    lines.append("  Real threads do that when the others are delayed that long (a loaded machine, a pause): "
                 "if the program counts on the delay for an order, that is the bug.")
    return lines


def _uninstrumented(result: Any) -> str:
    if not result.uninstrumented:
        return ""
    names = "\n".join(f"  {name}" for name in result.uninstrumented)
    return f"\n\nNot instrumented (ran without scheduling points):\n{names}"


def clean_traceback(text: str) -> str:
    """Drop the frames of interlace itself from a formatted traceback."""
    out: list[str] = []
    skip = False
    for line in text.splitlines(keepends=True):
        if line.startswith('  File "'):
            filename = line.split('"', 2)[1]
            skip = is_internal(filename)
            if skip:
                continue
        elif skip and line.startswith("    "):
            continue
        else:
            skip = False
        out.append(line)
    return "".join(out)


def source_line(site: tuple | None) -> str:
    if not site:
        return ""
    return linecache.getline(site[0], site[1]).strip()


MAX_ROWS = 80
WIDTH = 110


def use_color(stream: Any = None) -> bool:
    """ANSI colours only on a terminal, and never when ``NO_COLOR`` is set or ``TERM=dumb``."""
    stream = sys.stdout if stream is None else stream
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def table_width(color: bool) -> int:
    if not color:
        return WIDTH
    return max(80, min(120, shutil.get_terminal_size((WIDTH, 24)).columns))


_STYLE = {
    "read": "36", "write": "33", "delete": "33", "acquire": "34", "release": "34", "start": "34",
    "join": "34", "fold": "2", "preempted": "1;31", "failure": "1;31", "head": "1",
}


def _paint(text: str, style: str | None, color: bool) -> str:
    if not color or not style or not text.strip():
        return text
    return f"\x1b[{_STYLE[style]}m{text}\x1b[0m"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 1)] + "..."


def interleaving_table(trace: list, names: dict[int, str] | None = None, *, decisions: list | None = None,
                       failure: Any = None, color: bool = False, width: int | None = None) -> str:
    """The interleaving as a table with one column per thread and one row per step that matters.

    Steps around each preemption (and the locks held in a deadlock) get a row of their own, with the
    value read or written; the other steps of a thread are folded into one row per run (``... 4
    steps counter.py:19-20``). ``>`` in the step column marks a switch to another thread, a
    ``~~ preempted ~~`` row a switch away from a thread that could have gone on. The failure is the
    last row. ``decisions`` (from :mod:`interlace.drivers.shrink`) make preemptions exact; without them
    they are guessed from the trace.
    """
    a = analyze(trace, decisions, failure)
    if not a.events:
        return ""
    names = dict(names or {})
    files = {e.site[0] for e in a.events if e.site}
    where = (lambda site: f"L{site[1]}" if site and site[0] in files else location(site)) \
        if len(files) <= 1 else location
    # (step, tid, text, style) per printed row; the columns are the threads of the rows shown
    items: list[tuple[str, int, str, str | None]] = []
    for row in a.rows:
        first, last = row.events[0], row.events[-1]
        step = str(first.index) if len(row.events) == 1 else f"{first.index}-{last.index}"
        if row.switch:
            step = "> " + step
        if row.folded:
            n = len(row.events)
            where_run = span(row.events)
            if len(files) <= 1 and ":" in where_run:
                where_run = "L" + where_run.split(":", 1)[1]
            text, style = f"... {n} step{'s' if n != 1 else ''} {where_run}", "fold"
        else:
            text, style = f"{where(first.site)} {operation(first)}", first.kind
        items.append((step, row.tid, text, style))
        if row.preempted:
            items.append(("", row.tid, "~~ preempted ~~", "preempted"))
    cells = failure_cells(failure, names, where, files)
    hidden = max(0, len(items) + (1 if cells else 0) - MAX_ROWS)
    items = items[hidden:]
    tids = sorted({tid for _, tid, _, _ in items} | set(cells))
    for tid in tids:
        names.setdefault(tid, f"#{tid}")
    width = width or WIDTH
    step_w = max(6, len(str(a.events[-1].index)) * 2 + 3)
    col_w = max(14, (width - step_w - 3 * len(tids)) // max(len(tids), 1))

    def line(step: str, cells: dict[int, tuple[str, str | None]]) -> str:
        parts = [f"{step:>{step_w}}"]
        for tid in tids:
            text, style = cells.get(tid, ("", None))
            text = _fit(text, col_w)
            parts.append(_paint(text, style, color) + " " * (col_w - len(text)))
        return " | ".join(parts).rstrip()

    out_rows = [line(step, {tid: (text, style)}) for step, tid, text, style in items]
    if cells:
        out_rows.append(line("", {tid: (text, "failure") for tid, text in cells.items()}))
    if hidden:
        out_rows = [f"{'':>{step_w}}   ... {hidden} earlier rows not shown"] + out_rows
    n_pre = len(a.preemptions)
    total = f"the last {len(a.events)} of {a.skipped + len(a.events)}" if a.skipped else len(a.events)
    header = (f"Interleaving ({total} steps, {n_pre} preemption{'s' if n_pre != 1 else ''}, "
              f"{a.switches} context switch{'es' if a.switches != 1 else ''}):")
    head = line("step", {tid: (names[tid], "head") for tid in tids})
    rule = "-" * step_w + "".join("-+-" + "-" * col_w for _ in tids)
    legend = _sources(a, failure, files)
    return "\n".join([header, head, rule, *out_rows] + (["", "Source:", *legend] if legend else []))


def _sources(a: Any, failure: Any, files: Any = None) -> list[str]:
    sites: dict[tuple, None] = {}
    for row in a.rows:
        if row.important and row.events[0].site:
            site = row.events[0].site
            sites[(site[0], site[1])] = None
    fsite = failure_site(failure, files)
    if fsite:
        sites[fsite] = None
    out = []
    for filename, lineno in sites:
        text = linecache.getline(filename, lineno).strip()
        if text:
            out.append(f"  {location((filename, lineno)):<20} {_fit(text, 90)}")
    return out
