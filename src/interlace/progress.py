"""A live progress line for long explorations, on a terminal only.

``Progress`` is an ``on_execution(index, execution)`` callback for :func:`interlace.explore`. On a
TTY it redraws one line on the stream (stderr by default), at most ``interval`` times a second::

    interlace: 1,234 executions (2,310/s), 0 failures, 0.5s

and, for a systematic strategy (one with ``coverage()``), the part of its space covered so far::

    interlace: 340/10,000 executions (1,950/s), 0 failures, 0.2s; 340 of about 1.2k schedules (28.3%)

When the stream is not a terminal it writes nothing at all. Call :meth:`close` before printing
anything else: it erases the line.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, interval: float = 0.1, total: int | None = None,
                 enabled: bool | None = None, clock: Any = time.perf_counter) -> None:
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.interval = interval
        self.total = total
        self.clock = clock
        self.started = clock()
        self.executions = 0
        self.failures = 0
        self._last_draw = float("-inf")
        self._width = 0
        self._strategy: Any = None

    def __call__(self, index: int, execution: Any) -> None:
        self.executions = index + 1
        self._strategy = getattr(execution, "strategy", None)
        failed = getattr(execution, "failure", None) is not None
        if failed:
            self.failures += 1
        if not self.enabled:
            return
        now = self.clock()
        if failed or now - self._last_draw >= self.interval:
            self._last_draw = now
            self.draw(now, "shrinking the failing schedule..." if failed else "")

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        done = f"{self.executions:,}" + (f"/{self.total:,}" if self.total else "")
        rate = self.executions / elapsed
        failures = f"{self.failures} failure{'s' if self.failures != 1 else ''}"
        return f"interlace: {done} executions ({rate:,.0f}/s), {failures}, {elapsed:.1f}s" + self.covered()

    def covered(self) -> str:
        """``; 340 of about 1.2k schedules (28.3%)`` for a systematic strategy, else nothing."""
        coverage = getattr(self._strategy, "coverage", None)
        c = coverage() if callable(coverage) else None
        if not c:
            return ""
        estimate = max(float(c.get("estimate") or 0.0), float(c["classes"]), 1.0)
        return (f"; {c['classes']:,} of about {_short(estimate)} {c['unit']} "
                f"({min(c['classes'] / estimate, 1.0):.1%})")

    def draw(self, now: float | None = None, note: str = "") -> None:
        text = self.line(now) + (f"; {note}" if note else "")
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        """Erase the line (if one was drawn)."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _short(n: float) -> str:
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= limit:
            return f"{n / limit:.3g}{suffix}"
    return f"{n:.0f}"
