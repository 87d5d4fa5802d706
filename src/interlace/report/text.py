"""The plain-text failure report: what failed, where, and the interleaving that led there."""

from __future__ import annotations

import linecache
import os
from typing import Any

from ..runtime.describe import is_internal

#: trace events that are bookkeeping rather than something a reader needs to see
_QUIET = frozenset({"loop"})
MAX_ROWS = 60


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
    """One row per step that matters; a line marks each switch to another thread."""
    events = [e for e in trace if e.kind not in _QUIET]
    if not events:
        return ""
    switches = sum(1 for a, b in zip(events, events[1:]) if a.tid != b.tid)
    omitted = 0
    if len(events) > MAX_ROWS:
        omitted = len(events) - MAX_ROWS
        events = events[-MAX_ROWS:]
    width_loc = max(len(location(e.site)) for e in events)
    width_acc = min(max(len(f"{e.kind} {e.what}") for e in events), 40)
    header = f"Interleaving ({len(trace)} steps, {switches} context switches):"
    rows = [header]
    if omitted:
        rows.append(f"  ... {omitted} earlier steps not shown")
    rows.append(f"  {'step':>5}  {'thread':<12} {'location':<{width_loc}}  {'operation':<{width_acc}}  source")
    previous = None
    for e in events:
        if previous is not None and e.tid != previous:
            rows.append("  " + "-" * (5 + 2 + 12 + 1 + width_loc + 2 + width_acc))
        previous = e.tid
        name = names.get(e.tid, f"#{e.tid}") if names else _thread_label(e.tid)
        op = f"{e.kind} {e.what}"
        rows.append(f"  {e.step:>5}  {name:<12} {location(e.site):<{width_loc}}  {op:<{width_acc}}  "
                    f"{source_line(e.site)}")
    return "\n".join(rows)


def _thread_label(tid: int) -> str:
    return "main" if tid == 0 else f"T{tid}"
