"""The plain-text failure report: what failed, where, and the interleaving that led there."""

from __future__ import annotations

import linecache
import os
from typing import Any

from ..runtime.describe import is_internal

#: trace events that are bookkeeping rather than something a reader needs to see
_QUIET = frozenset({"loop"})
MAX_SEGMENTS = 24
FOLD = 6  # a run longer than this many operations is folded


def format_result(result: Any, replay_command: str | None = None) -> str:
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
    table = interleaving_table(result.trace, dict(enumerate(result.threads)))
    if table:
        lines += ["", table]
    if replay_command:
        lines += ["", f"Replay it: {replay_command}"]
    return "\n".join(lines) + _uninstrumented(result)


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


def location(site: tuple | None) -> str:
    if not site:
        return "?"
    return f"{os.path.basename(site[0])}:{site[1]}"


def interleaving_table(trace: list, names: dict[int, str] | None = None) -> str:
    """The interleaving, one row per operation, with a rule at each switch to another thread.

    A long run of operations by one thread is folded to its first and last rows, and only the last
    ``MAX_SEGMENTS`` runs are shown: the end of an execution is where its failure is.
    """
    events = [e for e in trace if e.kind not in _QUIET]
    if not events:
        return ""
    names = names or {}
    segments: list[list] = []
    for e in events:
        if segments and segments[-1][0].tid == e.tid:
            segments[-1].append(e)
        else:
            segments.append([e])
    header = f"Interleaving ({len(events)} operations, {len(segments) - 1} context switches):"
    hidden = max(0, len(segments) - MAX_SEGMENTS)
    rows: list[tuple[str, ...] | str] = []
    if hidden:
        rows.append(f"... {sum(len(s) for s in segments[:hidden])} earlier operations not shown")
    for n, segment in enumerate(segments[hidden:]):
        if n:
            rows.append("-")
        shown = segment if len(segment) <= FOLD + 2 else segment[:2] + [None] + segment[-(FOLD - 2):]
        for e in shown:
            if e is None:
                rows.append(f"... {len(segment) - FOLD} more operations by the same thread")
                continue
            name = names.get(e.tid, f"#{e.tid}")
            source = source_line(e.site)
            if len(source) > 60:
                source = source[:57] + "..."
            rows.append((str(e.index), name, location(e.site), _operation(e), source))
    table = [r for r in rows if isinstance(r, tuple)]
    widths = [max(len(r[i]) for r in table + [("step", "thread", "location", "operation", "")])
              for i in range(4)]
    widths[3] = min(widths[3], 44)
    out = [header, "  " + _row(("step", "thread", "location", "operation", "source"), widths)]
    rule = "  " + "-" * (sum(widths) + 8)
    for r in rows:
        if r == "-":
            out.append(rule)
        elif isinstance(r, str):
            out.append(f"  {'':>{widths[0]}}  {r}")
        else:
            out.append("  " + _row(r, widths))
    return "\n".join(out)


_ARROWS = {"read": "->", "write": "<-"}


def _operation(e: Any) -> str:
    """``read counter -> 0``, ``write counter <- 1``: the operation and the value when known."""
    op = f"{e.kind} {e.what}"
    if e.value is not None and e.kind in _ARROWS:
        op += f" {_ARROWS[e.kind]} {e.value}"
    return op


def _row(cells: tuple[str, ...], widths: list[int]) -> str:
    step, thread, loc, op, source = cells
    return (f"{step:>{widths[0]}}  {thread:<{widths[1]}}  {loc:<{widths[2]}}  {op:<{widths[3]}}  "
            f"{source}").rstrip()
