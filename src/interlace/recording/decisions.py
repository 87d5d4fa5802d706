"""The strategies of a recorded run and of its replay: one writes every decision, the other checks it.

:class:`RecordingStrategy` wraps the scheduler's strategy and writes each choice -- the thread, its
source location and pending operation, who could run -- to the recording; :class:`CheckingReplay`
makes the recorded choices again and stops at the first one the program does not match, with a
divergence message (and opens pdb at ``--until STEP``). They sit behind :mod:`interlace.strategies.base`
like every other strategy, so the scheduler core knows nothing about recordings.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..strategies.base import STOP, Strategy
from .format import Recording, RecordingWriter
from .program import PACKAGE_DIR


def relative_site(site: Any, root: str) -> tuple | None:
    if not site:
        return None
    filename = site[0]
    if root and filename.startswith(root + os.sep):
        filename = os.path.relpath(filename, root).replace(os.sep, "/")
    return (filename, site[1] or 0, site[2] or 0)


class RecordingStrategy(Strategy):
    """Delegates every choice to ``inner`` and writes it, with its site and operation, to ``writer``."""

    #: seconds a Ctrl-C waits for the main thread to make a decision (and get KeyboardInterrupt)
    #: before the run is ended without it (the main thread is blocked, e.g. in a join)
    INTERRUPT_GRACE = 0.5

    def __init__(self, inner: Strategy, writer: RecordingWriter) -> None:
        super().__init__(inner.seed)
        self.inner = inner
        self.name = inner.describe()
        self.writer = writer
        self.named = 0
        # Ctrl-C: the main thread gets KeyboardInterrupt at its next decision, as under plain Python;
        # nothing more is recorded from then on, so the recording replays up to that point
        self.interrupt_pending = False
        self.frozen = False
        self.on_freeze: Any = None
        self._interrupted_at: float | None = None

    def take_interrupt(self, now: float) -> bool:
        """The watchdog saw Ctrl-C (``now``: wall clock). True while this strategy delivers it (or did);
        False when the main thread made no decision within the grace period: end the run instead."""
        if self.frozen:
            return True
        if self._interrupted_at is None:
            self._interrupted_at = now
            self.interrupt_pending = True
            return True
        if now - self._interrupted_at < self.INTERRUPT_GRACE:
            return True
        self.interrupt_pending = False
        return self.frozen

    def begin(self, index: int) -> bool:
        return self.inner.begin(index)

    def thread_created(self, tid: int) -> None:
        self.inner.thread_created(tid)

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        if self.interrupt_pending and current == 0:
            self.interrupt_pending = False
            self.frozen = True
            if self.on_freeze is not None:
                self.on_freeze()
            raise KeyboardInterrupt
        tid = self.inner.choose(enabled, current, execution)
        if self.frozen:
            return tid
        threads = execution.threads
        if self.named < len(threads):
            for ts in threads[self.named:]:
                self.writer.thread(ts.tid, ts.name)
            self.named = len(threads)
        if tid >= 0:
            ts = threads[tid]
            self.writer.decision(tid, ts.site, ts.pending, execution.enabled_mask)
        return tid

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        quantum = getattr(self.inner, "quantum", None)
        return quantum(enabled, chosen, execution) if quantum is not None else 0

    def stayed(self, n: int) -> None:
        self.inner.stayed(n)  # type: ignore[attr-defined]
        if not self.frozen:  # after Ctrl-C nothing more is recorded, stays included
            self.writer.stay(n)

    def end(self, execution: Any) -> None:
        self.inner.end(execution)

    def describe(self) -> str:
        return self.inner.describe()


class CheckingReplay(Strategy):
    """Follows the recorded decisions and checks each one against the program."""

    name = "replay"

    def __init__(self, recording: Recording, root: str, until: int | None = None) -> None:
        super().__init__(0)
        self.decisions = recording.decisions
        self.source_lines = recording.source_lines
        self.complete = recording.complete
        self.root = root
        self.position = 0
        self.divergence: str | None = None
        self.ended = False  # reached the end of an interrupted run's recording
        self.until = until
        self.paused = False
        self.channel: Any = None  # the inputs, suspended while pdb runs
        self.owed = 0  # stays of the last decision that the program has not taken yet
        self.taken = 0  # decisions replayed, stays included

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        self.owed = self.decisions[self.position - 1].stays if self.position else 0
        return self.owed

    def stayed(self, n: int) -> None:
        self.owed -= n
        self.taken += n

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        step = execution.step
        if self.owed > 0:
            ts = execution.threads[current] if current is not None else None
            self.divergence = (f"at step {step} (decision {self.taken + 1}): the recording has thread "
                               f"{execution.threads[self.decisions[self.position - 1].tid].name!r} keep running "
                               f"for {self.owed} more decision(s) with the same threads able to run, but who can "
                               "run changed" + (f" (thread {ts.name!r} is at "
                                                f"{self._place(relative_site(ts.site, self.root), ts.pending, False)})"
                                                if ts is not None else ""))
            return STOP
        i = self.position
        self.position += 1
        self.taken += 1
        if self.until is not None and not self.paused and step >= self.until:
            self.paused = True
            _pause(execution, current, self.channel)
        if i >= len(self.decisions):
            if not self.complete:
                self.ended = True
                self.divergence = (f"the recording ends at decision {len(self.decisions)} (the "
                                   "recorded run was "
                                   "interrupted there); the replay stops at the same point")
                return STOP
            ts = execution.threads[current if current is not None else enabled[0]]
            here = self._place(relative_site(ts.site, self.root), ts.pending, False)
            self.divergence = (f"at step {step} (decision {i + 1}): the program makes a scheduling "
                               "decision the "
                               f"recording does not have: the recorded run made {len(self.decisions)}; "
                               f"thread {ts.name!r} is at {here}")
            return STOP
        d = self.decisions[i]
        threads = execution.threads
        if d.tid >= len(threads):
            self.divergence = (f"at step {step} (decision {i + 1}): the recording runs thread #{d.tid} at "
                               f"{self._place(d.site, d.op)}, but the program has only "
                               f"{len(threads)} thread(s) "
                               f"({', '.join(repr(t.name) for t in threads)})")
            return STOP
        ts = threads[d.tid]
        site = relative_site(ts.site, self.root)
        if site != d.site or ts.pending != d.op:
            self.divergence = (f"at step {step} (decision {i + 1}): the recording runs thread {ts.name!r} at "
                               f"{self._place(d.site, d.op)}, but the program has it at "
                               f"{self._place(site, ts.pending, False)}")
            return STOP
        if execution.enabled_mask != d.mask:
            names = lambda tids: ", ".join(
                repr(threads[t].name) if t < len(threads) else f"#{t}" for t in tids)
            self.divergence = (f"at step {step} (decision {i + 1}), with thread {ts.name!r} at "
                               f"{self._place(site, ts.pending, False)}, the recording has "
                               f"{names(d.enabled)} able to "
                               f"run, but the program has {names(enabled)}")
            return STOP
        return d.tid

    def _place(self, site: Any, op: Any, recorded: bool = True) -> str:
        """``file:line:col (operation) `source line``` -- the recorded source line for recorded sites."""
        if not site:
            return f"an unknown location ({op or 'no operation'})"
        filename, line, col = site
        if recorded:
            text = self.source_lines.get(tuple(site), "")
        else:
            import linecache

            path = filename if os.path.isabs(filename) else os.path.join(self.root, filename)
            text = linecache.getline(path, line).strip()
        where = f"{filename}:{line}:{col} ({op or 'no operation'})"
        return f"{where} `{text}`" if text else where


def _pause(execution: Any, current: int | None, channel: Any) -> None:
    """``--until STEP``: open pdb in the program's frame of the thread that holds the baton."""
    import pdb

    from ..instrument import is_instrumented_code

    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR + os.sep):
        frame = frame.f_back
    program_frame = frame
    while program_frame is not None and not is_instrumented_code(program_frame.f_code):
        program_frame = program_frame.f_back
    frame = program_frame or frame  # the program's own code if it is on the stack
    ts = execution.threads[current] if current is not None else None
    name = ts.name if ts is not None else "?"
    print(f"interlace: replay paused at step {execution.step} in thread {name!r}; inspect with pdb "
          "(p, w, up, down), `c` continues the replay", file=sys.__stdout__, flush=True)
    if frame is None:
        return
    busy = set(channel.busy) if channel is not None else set()
    if channel is not None:
        channel.busy.update(t.tid for t in execution.threads)  # pdb's own reads are not the program's
    try:
        debugger = pdb.Pdb(stdin=sys.__stdin__, stdout=sys.__stdout__)
        debugger.reset()
        debugger.interaction(frame, None)
    finally:
        if channel is not None:
            channel.busy.clear()
            channel.busy.update(busy)

