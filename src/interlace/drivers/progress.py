"""A live progress line for long explorations, on a terminal only.

``Progress`` is an ``on_execution(index, execution)`` callback for :func:`interlace.explore`. On a
TTY it redraws one line on the stream (stderr by default), at most ``interval`` times a second::

    interlace: 1,234 executions (2,310/s), 0 failures, 0.5s

and, for a systematic strategy (one with ``coverage()``), the part of its space covered so far::

    interlace: 340/10,000 executions (1,950/s), 0 failures, 0.2s; 340 of about 1.2k schedules (28.3%)

and, with a known total, the time left (``ETA 12s``). A long execution does not leave the line
still: a background ticker redraws it with the running execution's steps (``execution 1: 1.2M steps,
350k/s``). :class:`RunProgress` is the same line for ``interlace run``'s one execution.

When the stream is not a terminal it writes nothing at all. Call :meth:`close` before printing
anything else: it erases the line. Neither reads anything but counters: what they print never
changes what an execution does.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from ..runtime import hooks


def _steps_now() -> int | None:
    """The running execution's scheduling points so far (None: no execution is running)."""
    ex = hooks._active
    fast = getattr(ex, "fast", None)
    return fast.step if fast is not None else None


class _Ticker:
    """A daemon thread that calls ``draw()`` every ``interval`` seconds until stopped."""

    def __init__(self, interval: float, draw: Any) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval, draw), daemon=True,
                                        name="interlace-progress")

    def _loop(self, interval: float, draw: Any) -> None:
        while not self._stop.wait(interval):
            draw()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)


class Progress:
    def __init__(self, stream: TextIO | None = None, interval: float = 0.1, total: int | None = None,
                 enabled: bool | None = None, clock: Any = time.perf_counter, tick: bool = True) -> None:
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
        self._lock = threading.Lock()
        self._ticker: _Ticker | None = None
        self._exec_started = clock()
        if self.enabled and tick:
            self._ticker = _Ticker(max(interval, 0.25), self._tick)
            self._ticker.start()

    def _tick(self) -> None:
        now = self.clock()
        if now - self._last_draw >= self.interval:
            self.draw(now)

    def __call__(self, index: int, execution: Any) -> None:
        self._exec_started = self.clock()
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
        text = f"interlace: {done} executions ({rate:,.0f}/s), {failures}, {elapsed:.1f}s"
        if self.total and self.executions and self.executions < self.total:
            text += f", ETA {(self.total - self.executions) / rate:.0f}s"
        steps = _steps_now()
        if steps:
            running = max(now - self._exec_started, 1e-9)
            text += f"; execution {self.executions + 1}: {_short(steps)} steps, {_short(steps / running)}/s"
        return text + self.covered()

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
        with self._lock:
            self._last_draw = self.clock() if now is None else now
            text = self.line(now) + (f"; {note}" if note else "")
            pad = max(self._width - len(text), 0)
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()

    def close(self) -> None:
        """Stop the ticker and erase the line (if one was drawn)."""
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        with self._lock:
            if self.enabled and self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0


class RunProgress:
    """``interlace: running, 12.3M steps (1.1M/s), 11.2s`` on a terminal while ``interlace run``'s
    execution goes on; nothing when the stream is not a terminal."""

    def __init__(self, stream: TextIO, interval: float = 0.5, clock: Any = time.perf_counter) -> None:
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.clock = clock
        self.started = clock()
        self._width = 0
        self._lock = threading.Lock()
        self._ticker = _Ticker(interval, self.draw) if self.enabled else None
        if self._ticker is not None:
            self._ticker.start()

    def line(self) -> str:
        steps = _steps_now() or 0
        elapsed = max(self.clock() - self.started, 1e-9)
        return f"interlace: running, {_short(steps)} steps ({_short(steps / elapsed)}/s), {elapsed:.1f}s"

    def draw(self) -> None:
        with self._lock:
            text = self.line()
            pad = max(self._width - len(text), 0)
            self._width = len(text)
            self.stream.write("\r" + text + " " * pad + "\r")
            self.stream.flush()

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.clear()

    def clear(self) -> None:
        """Erase the line, for another line to take its place (it comes back at the next tick)."""
        with self._lock:
            if self._width:
                self.stream.write("\r" + " " * self._width + "\r")
                self.stream.flush()
                self._width = 0


def _short(n: float) -> str:
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= limit:
            return f"{n / limit:.3g}{suffix}"
    return f"{n:.0f}"
