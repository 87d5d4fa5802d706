"""The interleaving table and the progress line: exact layout on a hand-made trace, colour rules."""

from __future__ import annotations

import io

import pytest

from interlace.drivers.progress import Progress
from interlace.drivers.shrink import Decision
from interlace.report.analysis import analyze, preemption_points
from interlace.report.text import interleaving_table, use_color
from interlace.runtime.state import Event, Failure

pytestmark = pytest.mark.timeout(60)

F = "/tmp/prog.py"


def ev(index, tid, kind, what, line, value=None):
    return Event(index, tid, kind, what, (F, line, 0), value)


# MainThread starts two workers; worker 1 reads x, is preempted, worker 2 increments x, worker 1 writes.
TRACE = [
    ev(1, 0, "write", "x", 1, "0"),
    ev(2, 0, "start", "w1", 2),
    ev(3, 0, "start", "w2", 3),
    ev(4, 1, "read", "n", 5, "1"),
    ev(5, 1, "read", "x", 6, "0"),
    ev(6, 2, "read", "n", 5, "1"),
    ev(7, 2, "read", "x", 6, "0"),
    ev(8, 2, "write", "x", 6, "1"),
    ev(9, 2, "read", "y", 7, "0"),
    ev(10, 1, "write", "x", 6, "1"),
    ev(11, 0, "join", "w1", 9),
    ev(12, 0, "join", "w2", 9),
    ev(13, 0, "read", "x", 10, "1"),
]
DECISIONS = [
    Decision((0, 3, 0), (0, 1, 2), 0, 0, 3),
    Decision((0, 3, 1), (1, 2), None, 1, 3),
    Decision((1, 2, 0), (1, 2), 1, 2, 5),  # the preemption: after worker 1's read of x
    Decision((2, 4, 0), (1,), None, 1, 9),
]
NAMES = {0: "MainThread", 1: "w1", 2: "w2"}


def failure():
    try:
        raise AssertionError("x is 1")
    except AssertionError as exc:
        return Failure("exception", "AssertionError in the main function: x is 1", thread="MainThread",
                       exception=exc)


def test_preemptions_from_decisions_and_guessed_from_the_trace():
    assert preemption_points(TRACE, DECISIONS) == [(5, 1)]
    # guessed: every switch away from a thread that later goes on with a non-blocking step
    assert preemption_points(TRACE, None) == [(5, 1)]
    a = analyze(TRACE, DECISIONS)
    assert sorted(a.important) == [5, 7, 8, 10]
    assert a.switches == 4


def test_table_exact_layout():
    table = interleaving_table(TRACE, NAMES, decisions=DECISIONS, failure=None, width=80)
    assert table.splitlines() == [
        "Interleaving (13 steps, 1 preemption, 4 context switches):",
        "   step | MainThread            | w1                    | w2",
        "--------+-----------------------+-----------------------+----------------------",
        "    1-3 | ... 3 steps L1-3      |                       |",
        "    > 4 |                       | ... 1 step L5         |",
        "      5 |                       | L6 read x -> 0        |",
        "        |                       | ~~ preempted ~~       |",
        "    > 6 |                       |                       | ... 1 step L5",
        "      7 |                       |                       | L6 read x -> 0",
        "      8 |                       |                       | L6 write x <- 1",
        "      9 |                       |                       | ... 1 step L7",
        "   > 10 |                       | L6 write x <- 1       |",
        "> 11-13 | ... 3 steps L9-10     |                       |",
    ]


def test_failure_row_and_sources(tmp_path):
    src = tmp_path / "prog.py"
    src.write_text("x = 0\n" * 12)
    trace = [e._replace(site=(str(src), e.site[1], 0)) for e in TRACE]
    table = interleaving_table(trace, NAMES, decisions=DECISIONS, failure=failure(), width=100)
    lines = table.splitlines()
    fail_row = [line for line in lines if "FAILS:" in line]
    assert len(fail_row) == 1
    assert fail_row[0].split(" | ")[1].startswith("FAILS: AssertionError at ")
    sources = lines[lines.index("Source:") + 1:]
    assert sources[0] == "  prog.py:6            x = 0"
    assert sources[1].startswith("  test_report_text.py:")  # where the exception was raised


def test_deadlock_row_names_what_each_thread_waits_for():
    trace = [ev(1, 1, "acquire", "A", 3), ev(2, 2, "acquire", "B", 4)]
    f = Failure("deadlock", "deadlock: ...", details=[
        "thread 'w1' waits for B held by 'w2'; holds A\n  File ...\n",
        "thread 'w2' waits for A held by 'w1'; holds B\n",
    ])
    table = interleaving_table(trace, NAMES, failure=f, width=110)
    row = [line for line in table.splitlines() if "DEADLOCK" in line][0]
    cells = (row + " ").split(" | ")
    assert [c.strip() for c in table.splitlines()[1].split(" | ")[1:]] == ["w1", "w2"]
    assert cells[1].strip() == "DEADLOCK: waits for B held by 'w2'"
    assert cells[2].strip() == "DEADLOCK: waits for A held by 'w1'"
    # the acquires of the locks still held are steps that matter
    assert "L3 acquire A" in table and "L4 acquire B" in table


def test_long_runs_fold_and_rows_stay_within_the_width():
    trace = [ev(i, 0, "read", f"name_{i}_that_is_quite_long_indeed", 100 + i, "'" + "v" * 50 + "'")
             for i in range(1, 500)]
    trace += [ev(500, 1, "write", "x", 3, "1")]
    table = interleaving_table(trace, {0: "MainThread", 1: "worker-with-a-rather-long-name"}, width=110)
    lines = table.splitlines()
    assert "... 499 steps L101-599" in table
    assert all(len(line) <= 110 for line in lines if not line.startswith("  prog.py"))
    assert len(lines) < 10


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert use_color(Tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert use_color(Tty()) is False
    plain = interleaving_table(TRACE, NAMES, decisions=DECISIONS, color=False)
    coloured = interleaving_table(TRACE, NAMES, decisions=DECISIONS, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[36m" in coloured and "\x1b[33m" in coloured and "\x1b[1;31m" in coloured
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_progress_line_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    class Ex:
        failure = None

    now = [100.0]
    tty = Tty()
    p = Progress(stream=tty, interval=0.0, total=1000, clock=lambda: now[0], tick=False)
    for i in range(10):
        now[0] += 0.1
        p(i, Ex())
    assert tty.getvalue().endswith("\rinterlace: 10/1,000 executions (10/s), 0 failures, 1.0s, ETA 99s")
    failing = Ex()
    failing.failure = object()
    p(10, failing)
    assert "1 failure, 1.0s, ETA 90s; shrinking the failing schedule..." in tty.getvalue()
    p.close()
    assert tty.getvalue().endswith("\r")

    class Systematic:
        def __init__(self, classes, estimate):
            self.c = {"classes": classes, "estimate": estimate, "unit": "schedules"}

        def coverage(self):
            return self.c

    searching = Ex()
    searching.strategy = Systematic(340, 1201.0)
    wide = Tty()
    s = Progress(stream=wide, interval=0.0, total=10_000, clock=lambda: now[0], tick=False)
    s(339, searching)
    assert wide.getvalue().endswith("0 failures, 0.0s, ETA 0s; 340 of about 1.2k schedules (28.3%)")
    searching.strategy = Systematic(5, 2.5e7)
    s(4, searching)
    assert wide.getvalue().rstrip().endswith("; 5 of about 25M schedules (0.0%)")  # padded over the longer line

    quiet = io.StringIO()
    q = Progress(stream=quiet, interval=0.0)
    q(0, Ex())
    q.close()
    assert quiet.getvalue() == ""
    assert q.executions == 1


def test_method_calls_of_uninstrumented_classes_conflict_on_the_object_type():
    from interlace.report.analysis import location_of

    assert location_of(ev(1, 1, "call", "queue.Queue.get_nowait", 3)) == "queue.Queue"
    assert location_of(ev(1, 1, "call", "threading.Thread", 3)) is None
    assert location_of(ev(1, 1, "call", "time.sleep", 3)) is None
    assert location_of(ev(1, 1, "acquire", "Lock@p.py:3", 3)) == "Lock@p.py:3"
    trace = [ev(1, 1, "call", "queue.Queue.empty", 6), ev(2, 2, "call", "queue.Queue.empty", 6),
             ev(3, 2, "call", "queue.Queue.get_nowait", 7), ev(4, 1, "call", "queue.Queue.get_nowait", 7)]
    decisions = [Decision((1, 1, 0), (1, 2), 1, 2, 1)]
    assert sorted(analyze(trace, decisions).important) == [1, 2, 3, 4]


COUNT = 0


def _long_racy_counter():
    """Two threads, 300 unlocked increments each, no assertion: the run fails with its race only."""
    import threading

    global COUNT
    COUNT = 0

    def work():
        global COUNT
        for _ in range(300):
            COUNT = COUNT + 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_a_run_failing_with_a_race_only_shows_the_interleaving_up_to_the_race():
    import interlace

    result = interlace.explore(_long_racy_counter, strategy="pct", seed=1, executions=1)
    assert result.failure.kind == "race"
    table = result.report().split("Interleaving (", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(result.trace) > 1200  # the whole run: 600 increments
    assert table[0] == "17 steps, 1 preemption, 3 context switches):"
    # the last rows: the race's second access, then the failure row in its thread's column
    line = _long_racy_counter.__code__.co_firstlineno + 10  # COUNT = COUNT + 1
    assert [c.strip() for c in table[-2].split("|")] == ["> 17", "", "", f"L{line} read COUNT -> 5"]
    assert [c.strip() for c in table[-1].split("|")][-1] == "RACE"
