"""The report side of the command line: ``interlace report FILE [--html OUT.html]``, and the files
``interlace explore`` writes next to a failing schedule (the original schedule, the HTML report)."""

from __future__ import annotations

import os
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

