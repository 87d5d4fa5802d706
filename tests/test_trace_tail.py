"""A long run's report keeps only the trace events it may show (runtime/tracetail.py): the report is the
one the whole trace gave, the memory does not grow with the run's length. Its schedule of millions of
decisions is written as json writes it, without a string per decision."""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict

import pytest

import interlace
from interlace.drivers import conclude
from interlace.report.html import render_html
from interlace.runtime.state import Event
from interlace.runtime.tracetail import TraceTail
from interlace.schedule import Schedule

pytestmark = pytest.mark.timeout(120)


def event(index: int, tid: int, kind: str = "read", line: int = 1) -> Event:
    return Event(index, tid, kind, "x", ("prog.py", line, 0), None)


def test_a_tail_keeps_its_last_events_and_counts_the_others_by_kind():
    tail = TraceTail(keep=3)
    for i in range(1, 8):
        tail.append(event(i, 0, "loop" if i % 2 else "read"))
    assert len(tail) == 7 and tail.kept_from() == 4
    assert [e.index for e in tail] == [5, 6, 7]
    assert tail.dropped == {"loop": 2, "read": 2}
    assert [e.index for e in tail[-2:]] == [6, 7] and [e.index for e in tail[5:]] == [6, 7]
    assert tail[:5] == [event(5, 0, "loop")] and tail[4].index == 5 and tail[-1].index == 7
    assert list(tail[:2]) == []  # what is no longer kept gives nothing
    with pytest.raises(IndexError):
        tail[3]
    tail[-1] = tail[-1]._replace(value="42")
    assert tail[6].value == "42"


def test_a_tail_keeps_itself_as_it_was_at_the_race_cut():
    """race_end's cut: the first step like the second access after one like the first. The copy is taken
    once the matched event got its value (Execution.observe replaces the last event)."""
    first, second = (0, "read", ("prog.py", 1)), (1, "write", ("prog.py", 2))
    tail = TraceTail(keep=2, until=(first, second))
    tail.append(event(1, 1, "write", 2))  # like the second, before any first: no cut
    tail.append(event(2, 0, "read", 1))
    tail.append(event(3, 0, "read", 5))
    tail.append(event(4, 1, "write", 2))
    assert tail.cut_at == 4 and tail.cut is tail
    tail[-1] = tail[-1]._replace(value="7")
    for i in range(5, 9):
        tail.append(event(i, 1, "write", 2))
    cut = tail[:4]
    assert cut is tail.cut and len(cut) == 4 and [(e.index, e.value) for e in cut] == [(3, None), (4, "7")]
    assert cut.dropped == {"write": 1, "read": 1} and len(tail) == 8


def _racy_long_run() -> None:
    """A lost update early in thread b's run, then a long tail of its own locked work: the report shows
    the run up to the race, thousands of steps before its end (each thread has a lock of its own: no
    edge orders the two updates)."""
    box = {"n": 0}

    def work(early: int, late: int) -> None:
        lock = threading.Lock()
        mine = [0]
        for _ in range(early):
            with lock:
                mine[0] += 1
        box["n"] += 1
        for _ in range(late):
            with lock:
                mine[0] += 1

    threads = [threading.Thread(target=work, args=(0, 1500)), threading.Thread(target=work, args=(1500, 1500))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_the_report_of_a_long_racy_run_is_the_one_of_its_whole_trace(monkeypatch):
    kept = interlace.explore(_racy_long_run, executions=1, seed=3, strategy="pct")
    monkeypatch.setattr(conclude, "TraceTail", lambda **options: [])  # the whole trace, as before
    whole = interlace.explore(_racy_long_run, executions=1, seed=3, strategy="pct")
    assert not kept.ok and kept.failure.kind == "race"
    assert len(whole.trace) > 15000 and len(kept.trace) == len(whole.trace)
    assert len(list(kept.trace)) == 5000  # kept: the last events only
    assert kept.trace.cut_at is not None and 5000 < kept.trace.cut_at < len(whole.trace) - 5000
    assert kept.report() == whole.report()
    assert "Interleaving (the last 5000 of " in kept.report()
    assert render_html(kept) == render_html(whole)


@pytest.mark.parametrize("n", [0, 3, 10_000, 10_001, 45_678])
def test_a_long_schedule_is_the_json_the_indenting_encoder_writes(n):
    choices = [random.Random(n).randrange(300) for _ in range(n)]
    schedule = Schedule(choices=choices, target={"pytest": 'test_a.py::test["choices": []]'}, failure="boom")
    doc = {"format": "interlace-schedule", "version": 1, **asdict(schedule)}
    assert schedule.to_json() == json.dumps(doc, indent=1) + "\n"
    assert Schedule.from_json(schedule.to_json()) == schedule
