"""What a report shows of a trace: switches, preemptions, the steps that matter, lock holds, and
happens-before edges. Shared by the text table and the HTML timeline.

*The steps that matter* (Lincheck-style): at each preemption, the last step of the preempted thread
before it and its first step after it resumes, plus, for each location that thread touched around
the preemption, the first and last conflicting accesses to it by the threads that ran in between
(a conflict: two accesses to the same name, at least one a write; lock operations conflict on the
lock). For a deadlock, the acquires of the locks each thread still holds. Everything else is folded.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from ..runtime.describe import is_internal
from ..runtime.tracetail import REPORT_WINDOW, TraceTail, race_steps, step_of

QUIET = frozenset({"loop"})


def location_of(e: Any) -> str | None:
    """The shared location an event touches, for conflicts: the name for accesses and lock
    operations; ``pkg.Class`` for a call of a method of an uninstrumented class (``queue.Queue.get``),
    which may touch that object's state; None for anything else."""
    if e.kind in ACCESSES:
        return e.what
    if e.kind == "call":
        parts = e.what.split(".")
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return ".".join(parts[:-1])
    return None
ACCESSES = frozenset({"read", "write", "delete", "acquire", "release"})
WRITES = frozenset({"write", "delete", "acquire", "release", "call"})
SYNC = frozenset({"acquire", "release", "start", "join"})


@dataclass
class Row:
    """One row of the interleaving: a single step, or a folded run of steps by one thread."""

    tid: int
    events: list  # the trace events (one, or the folded run)
    important: bool = False
    switch: bool = False  # first row after a switch to another thread
    preempted: bool = False  # the thread is preempted after this row

    @property
    def folded(self) -> bool:
        return len(self.events) > 1 or not self.important and self.events[0].kind not in SYNC


@dataclass
class Analysis:
    events: list  # trace without bookkeeping events, in order
    preemptions: list[tuple[int, int]]  # (trace position: events before the switch, preempted tid)
    important: set[int] = field(default_factory=set)  # event indexes (Event.index)
    switches: int = 0
    rows: list[Row] = field(default_factory=list)
    skipped: int = 0  # steps before the analysed window (see WINDOW)


def preemption_points(trace: list, decisions: list | None) -> list[tuple[int, int]]:
    """(position, tid): ``tid`` could have gone on after the first ``position`` trace events but
    another thread was run. Exact from recorded decisions; without them, guessed from the trace (a
    switch away from a thread whose next step is not a blocking operation)."""
    if decisions:
        seen = set()
        out = []
        for d in decisions:
            if d.preemption and (d.position, d.current) not in seen:
                seen.add((d.position, d.current))
                out.append((d.position, d.current))
        return out
    out = []
    for i in range(1, len(trace)):
        a = trace[i - 1].tid
        if trace[i].tid == a:
            continue
        nxt = next((e for e in trace[i:] if e.tid == a), None)
        if nxt is not None and nxt.kind not in ("acquire", "join", "sleep"):
            out.append((i, a))
    return out


#: a report analyses at most this many trace events: the last ones, where the failure is; a long
#: run's earlier steps are counted in the report, not shown (see Analysis.skipped)
WINDOW = REPORT_WINDOW


def analyze(trace: list, decisions: list | None = None, failure: Any = None, window: int = WINDOW) -> Analysis:
    """The rows of a report, in time linear in the trace (per preemption, only the steps of the
    locations its thread touched are visited, through per-thread and per-location position lists)."""
    full = list(trace)
    skipped = max(len(full) - window, 0)
    # a long run's report trace keeps only its last events: those it no longer has are counted by kind
    gone = sum(n for kind, n in trace.dropped.items() if kind not in QUIET) if isinstance(trace, TraceTail) else 0
    if skipped or gone:
        skipped = gone + sum(1 for e in full[:skipped] if e.kind not in QUIET)  # steps not shown
        full = full[max(len(full) - window, 0):]
        cut = len(trace) - len(full)
        decisions = [d._replace(position=d.position - cut) for d in decisions or () if d.position > cut] or None
    preemptions = preemption_points(full, decisions)
    events = [e for e in full if e.kind not in QUIET]
    # quiet_before[p]: how many of the first p trace events are shown (not QUIET)
    shown_before = [0] * (len(full) + 1)
    n = 0
    for i, e in enumerate(full):
        shown_before[i] = n
        if e.kind not in QUIET:
            n += 1
    shown_before[len(full)] = n
    by_tid: dict[int, list[int]] = {}
    by_location: dict[str, list[int]] = {}
    for i, e in enumerate(events):
        by_tid.setdefault(e.tid, []).append(i)
        loc = location_of(e)
        if loc is not None:
            by_location.setdefault(loc, []).append(i)
    result = Analysis(events, preemptions, skipped=skipped)
    important = result.important
    for position, tid in preemptions:
        q = shown_before[min(position, len(full))]  # events[:q] happened before the switch
        mine_at = by_tid.get(tid, [])
        k = bisect_left(mine_at, q)
        before_i = mine_at[k - 1] if k else None
        resume_i = mine_at[k] if k < len(mine_at) else None
        before = events[before_i] if before_i is not None else None
        after = events[resume_i] if resume_i is not None else None
        end = resume_i if resume_i is not None else len(events)
        if before is not None:
            important.add(before.index)
        if after is not None:
            important.add(after.index)
        own = (_segment_back(events, before_i) if before_i is not None else []) + (
            _segment_forward(events, resume_i) if resume_i is not None else [])
        for loc in dict.fromkeys(loc for loc in map(location_of, own) if loc is not None):
            mine = [e for e in own if location_of(e) == loc]
            i_write = any(e.kind in WRITES for e in mine)
            at = by_location.get(loc, [])
            first: dict[int, Any] = {}
            last: dict[int, Any] = {}
            for i in at[bisect_left(at, q):bisect_left(at, end)]:
                e = events[i]
                if e.tid != tid and (i_write or e.kind in WRITES):
                    first.setdefault(e.tid, e)
                    last[e.tid] = e
            if not first:
                continue
            last_before = [e for e in mine if e.index <= (before.index if before else 0)]
            first_after = [e for e in mine if after is not None and e.index >= after.index]
            if last_before:
                important.add(last_before[-1].index)
            if first_after:
                important.add(first_after[0].index)
            for e in (*first.values(), *last.values()):
                important.add(e.index)
    if failure is not None and failure.kind == "deadlock":
        for e in held_at_end(events):
            important.add(e.index)
    if failure is not None and failure.kind == "race" and events:
        important.add(events[-1].index)  # the race's second access (see race_end)
    result.switches = sum(1 for a, b in zip(events, events[1:], strict=False) if a.tid != b.tid)
    ends = (shown_before[min(p, len(full))] for p, _ in preemptions)
    preempted_after = {events[q - 1].index for q in ends if q > 0}
    result.rows = _rows(events, important, preempted_after)
    return result


def _segment_back(events: list, i: int) -> list:
    """The run of steps of ``events[i]``'s thread that ends at ``i`` (its segment before a switch)."""
    tid = events[i].tid
    j = i
    while j > 0 and events[j - 1].tid == tid:
        j -= 1
    return events[j:i + 1]


def _segment_forward(events: list, i: int) -> list:
    tid = events[i].tid
    j = i
    while j + 1 < len(events) and events[j + 1].tid == tid:
        j += 1
    return events[i:j + 1]


def held_at_end(events: list) -> list:
    """The acquire events of the locks still held when the trace ends (per thread and label)."""
    held: dict[tuple[int, str], list] = {}
    for e in events:
        if e.kind == "acquire":
            held.setdefault((e.tid, e.what), []).append(e)
        elif e.kind == "release" and held.get((e.tid, e.what)):
            held[(e.tid, e.what)].pop()
    return sorted((stack[0] for stack in held.values() if stack), key=lambda e: e.index)


def _rows(events: list, important: set[int], preempted_after: set[int]) -> list[Row]:
    rows: list[Row] = []
    run: list = []

    def flush() -> None:
        if run:
            rows.append(Row(run[0].tid, list(run)))
            run.clear()

    for e in events:
        if run and run[-1].tid != e.tid:
            flush()
        if e.index in important:
            flush()
            rows.append(Row(e.tid, [e], important=True))
        else:
            run.append(e)
        if e.index in preempted_after:
            flush()
            rows[-1].preempted = True
    flush()
    last_tid = None
    for row in rows:
        row.switch = last_tid is not None and row.tid != last_tid
        last_tid = row.tid
    return rows


def location(site: tuple | None) -> str:
    if not site:
        return "?"
    return f"{os.path.basename(site[0])}:{site[1]}"


def span(events: list) -> str:
    """``counter.py:19-20``: where a folded run of steps happened."""
    sites = [e.site for e in events if e.site]
    if not sites:
        return ""
    files = {s[0] for s in sites}
    lines = sorted({s[1] for s in sites})
    name = os.path.basename(sites[0][0]) if len(files) == 1 else f"{len(files)} files"
    return f"{name}:{lines[0]}" + (f"-{lines[-1]}" if len(files) == 1 and lines[-1] != lines[0] else "")


ARROWS = {"read": "->", "write": "<-"}


def operation(e: Any) -> str:
    """``read counter -> 0``, ``write counter <- 1``: the operation and the value when known."""
    op = f"{e.kind} {e.what}"
    if e.value is not None and e.kind in ARROWS:
        op += f" {ARROWS[e.kind]} {e.value}"
    return op


def failure_site(failure: Any, files: Any = None) -> tuple | None:
    """(filename, line) of the innermost frame of the failure's exception in the code under test:
    in one of ``files`` (those of the trace) when given and possible, else outside interlace."""
    exc = getattr(failure, "exception", None)
    if exc is None:
        return None
    tb = exc.__traceback__
    last = in_files = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not is_internal(filename):
            last = (filename, tb.tb_lineno)
            if files and filename in files:
                in_files = last
        tb = tb.tb_next
    return in_files or last


def race_end(trace: list, threads: list[str], race: Any) -> int | None:
    """How much of ``trace`` to show for a run that fails with ``race`` only: up to the first access
    like the race's second one (same thread, kind and line) after one like its first. The race is
    usually early and the run long (the seed article's program: the first lost update within a few
    hundred of 800,000 steps); the end of the run shows nothing of it. None: not found."""
    first, second = steps = race_steps(race, threads)
    if isinstance(trace, TraceTail) and trace.until == steps:
        return trace.cut_at  # (found as the run went: the tail keeps itself as it was there)
    seen = False
    for i, e in enumerate(trace):
        step = step_of(e)
        if step is None:
            continue
        if seen and step == second:
            return i + 1
        seen = seen or step == first
    return None


def failure_cells(failure: Any, names: dict[int, str], where: Any = None,
                  files: Any = None) -> dict[int, str]:
    """What the failure row says in each thread's column."""
    where = where or location
    if failure is None:
        return {}
    by_name = {name: tid for tid, name in names.items()}
    cells: dict[int, str] = {}
    if failure.kind == "deadlock":
        for block in failure.details:
            first = block.splitlines()[0] if block else ""
            if first.startswith("thread '") and " waits for " in first:
                name = first[len("thread '"):first.index("' waits for ")]
                waits = first.split(" waits for ", 1)[1].split("; holds", 1)[0]
                if name in by_name:
                    cells[by_name[name]] = f"DEADLOCK: waits for {waits}"
        return cells
    tid = by_name.get(failure.thread or "", None)
    if tid is None:
        return cells
    if failure.kind == "exception":
        site = failure_site(failure, files)
        at = f" at {where(site)}" if site else ""
        cells[tid] = f"FAILS: {type(failure.exception).__name__}{at}"
    elif failure.kind == "livelock":
        cells[tid] = "LIVELOCK: keeps spinning"
    else:
        cells[tid] = f"{failure.kind.upper()}"
    return cells
