"""Shrinking failing schedules: fewer preemptions, the same failure, the same result every time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import programs_shrink as programs
import pytest

import interlace
from interlace.drivers.script import ScriptRunner
from interlace.drivers.session import EPOCH, Session
from interlace.drivers.shrink import (
    Decision,
    RecordingStrategy,
    deviations_of,
    run_candidate,
    schedule_of,
    shrink,
)
from interlace.report.text import interleaving_table
from interlace.runtime.state import Failure
from interlace.schedule import Schedule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTER = os.path.join(ROOT, "examples", "counter.py")

pytestmark = pytest.mark.timeout(300)

ACCESS = re.compile(r"\b(read|write) counter\b")


def counter_accesses(table: str, names: list[str]) -> list[tuple[str, str]]:
    """(thread, "read"/"write") for every row of the table that shows an access of ``counter``."""
    found = []
    for line in table.splitlines():
        cells = (line + " ").split(" | ")
        if len(cells) != len(names) + 1:
            continue
        for name, cell in zip(names, cells[1:], strict=True):
            m = ACCESS.search(cell)
            if m:
                found.append((name, m.group(1)))
    return found


def preemptions_of(fn, choices, model="free-threaded"):
    with Session(fn, (), ()) as session:
        c = run_candidate(session, model, 100_000, EPOCH, choices=list(choices))
    return c.size.preemptions, c.execution.failure


@pytest.mark.parametrize("seed", range(5))
def test_counter_shrinks_to_one_preemption_and_four_accesses_of_counter(seed):
    runner = ScriptRunner(COUNTER, [])
    result = interlace.explore(runner, executions=50, seed=seed)
    assert not result.ok and result.failure.kind == "exception"
    assert result.failure.message.startswith("AssertionError in the main function: lost update")
    assert result.shrink.before.preemptions >= 1
    assert result.shrink.after.preemptions == 1
    assert sum(1 for d in result.decisions if d.preemption) == 1
    # the saved schedule replays to the same failure with exactly one preemption
    n, failure = preemptions_of(runner, result.schedule.choices)
    assert n == 1 and failure.signature() == result.failure.signature()
    again = interlace.replay(runner, result.schedule)
    assert again.failure.signature() == result.failure.signature()

    names = result.threads
    table = interleaving_table(result.trace, dict(enumerate(names)), decisions=result.decisions,
                               failure=result.failure, color=False)
    accesses = counter_accesses(table, names)
    assert sorted(kind for _, kind in accesses) == ["read", "read", "write", "write"], table
    assert len({thread for thread, _ in accesses}) == 2, table
    assert "MainThread" not in {thread for thread, _ in accesses}
    # the preempted thread reads, the other thread reads and writes, the preempted thread writes
    (t1, k1), (t2, k2), (t3, k3), (t4, k4) = accesses
    assert (k1, k2, k3, k4) == ("read", "read", "write", "write")
    assert t1 == t4 != t2 == t3
    assert table.count("~~ preempted ~~") == 1
    assert "Interleaving (" in table and "1 preemption," in table


def test_counter_report_shows_the_shrunk_interleaving():
    runner = ScriptRunner(COUNTER, [])
    result = interlace.explore(runner, executions=50, seed=1)
    text = result.report()
    assert "Schedule shrunk from " in text and " to 1 preemption(s)" in text
    assert result.original_schedule is not None
    assert len(result.schedule.choices) <= len(result.original_schedule.choices)
    assert result.original_schedule.failure.startswith("AssertionError in the main function: lost update")


def test_shrinking_is_deterministic():
    runner = ScriptRunner(COUNTER, [])
    a = interlace.explore(runner, executions=50, seed=2)
    b = interlace.explore(runner, executions=50, seed=2)
    assert a.schedule.choices == b.schedule.choices
    assert a.shrink.replays == b.shrink.replays and a.shrink.steps == b.shrink.steps
    names = dict(enumerate(a.threads))
    ta = interleaving_table(a.trace, names, decisions=a.decisions, failure=a.failure)
    tb = interleaving_table(b.trace, names, decisions=b.decisions, failure=b.failure)
    assert ta == tb
    # shrinking the same failing schedule directly, twice, in one session
    with Session(runner, (), ()) as session:
        first = run_candidate(session, "free-threaded", 100_000, EPOCH, choices=a.original_schedule.choices)
        original, failure = a.original_schedule.choices, first.execution.failure
        r1 = shrink(session, original, failure, "free-threaded", 100_000, EPOCH)
        r2 = shrink(session, original, failure, "free-threaded", 100_000, EPOCH)
    assert r1.choices == r2.choices == a.schedule.choices
    assert (r1.before, r1.after, r1.replays) == (r2.before, r2.after, r2.replays)


@pytest.mark.parametrize("name", sorted(programs.PROGRAMS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corpus_shrinks_without_more_preemptions_and_reproduces(name, seed):
    fn, kind = programs.PROGRAMS[name]
    result = interlace.explore(fn, executions=300, seed=seed, races="off")
    assert not result.ok, f"{name}: no failure with seed {seed}"
    assert result.failure.kind == kind, result.report()
    shrunk = result.shrink
    assert shrunk.reproduced and shrunk.stopped is None
    assert shrunk.after.preemptions <= shrunk.before.preemptions
    assert shrunk.after <= shrunk.before
    original_n, original_failure = preemptions_of(fn, result.original_schedule.choices)
    shrunk_n, shrunk_failure = preemptions_of(fn, result.schedule.choices)
    assert shrunk_n <= original_n
    assert shrunk_failure.signature() == original_failure.signature() == result.failure.signature()
    again = interlace.replay(fn, result.schedule, races="off")
    assert again.divergence is None
    assert again.failure.kind == kind
    assert again.failure.signature() == result.failure.signature()


@pytest.mark.parametrize("name", sorted(programs.PROGRAMS))
def test_corpus_shrinks_to_one_preemption(name):
    fn, _kind = programs.PROGRAMS[name]
    result = interlace.explore(fn, executions=300, seed=0, races="off")
    assert result.shrink.after.preemptions == 1, result.shrink.summary()


def test_livelock_shrinks_and_keeps_its_kind():
    result = interlace.explore(programs.spin_until_set, executions=50, seed=0, races="off", max_steps=400)
    assert result.failure.kind == "livelock", result.report()
    assert result.shrink.after.preemptions <= result.shrink.before.preemptions
    # never shrunk into starvation (a waiting thread that is never run again)
    assert result.shrink.after.decisions <= result.shrink.before.decisions
    again = interlace.replay(programs.spin_until_set, result.schedule, races="off")
    assert again.failure.kind == "livelock"


def test_a_candidate_that_would_starve_a_thread_forever_is_cut_short():
    """A candidate runs at most CANDIDATE_STEPS times the failing execution's points (at least
    CANDIDATE_SLACK more): past its deviations, the default order ran a worker forever here, and
    shrinking never ended."""
    from interlace.drivers import shrink as shrinking

    result = interlace.explore(programs.stop_flag_set_at_once, executions=200, seed=1, races="off")
    assert result.failure.kind == "exception", result.report()
    assert result.failure.message == "AssertionError in the main function: the workers never counted"
    assert result.shrink.reproduced and result.shrink.stopped is None
    assert result.shrink.after <= result.shrink.before
    with Session(programs.stop_flag_set_at_once, (), ()) as session:
        starving = run_candidate(session, "free-threaded", shrinking.CANDIDATE_SLACK, EPOCH,
                                 deviations={(0, 0, 0): 1})
    assert starving.execution.failure.kind == "livelock"  # what the cut-short candidates end with
    again = interlace.replay(programs.stop_flag_set_at_once, result.schedule, races="off")
    assert again.failure.message == result.failure.message


def test_no_shrink_keeps_the_schedule_as_found():
    result = interlace.explore(programs.lost_update_attribute, executions=300, seed=0, races="off",
                               shrink=False)
    assert result.shrink.skipped == "disabled"
    assert result.schedule.choices == result.original_schedule.choices
    assert "Schedule shrunk" not in result.report()


def test_stuck_failures_are_not_shrunk():
    with Session(programs.lost_update_attribute, (), ()) as session:
        result = shrink(session, [1, 2, 1], Failure("stuck", "stuck"), "free-threaded", 100, EPOCH)
    assert result.skipped.startswith("a stuck thread depends on wall-clock time")
    assert result.choices == [1, 2, 1] and result.replays == 0


def test_replay_budget_bounds_the_work():
    result = interlace.explore(programs.lost_update_attribute, executions=300, seed=1, races="off")
    with Session(programs.lost_update_attribute, (), ()) as session:
        c = run_candidate(session, "free-threaded", 100_000, EPOCH, choices=result.original_schedule.choices)
        bounded = shrink(session, result.original_schedule.choices, c.execution.failure, "free-threaded",
                         100_000, EPOCH, max_replays=2)
    assert bounded.replays == 2
    assert bounded.stopped == "the budget of 2 replays was spent"
    assert bounded.after <= bounded.before


def test_schedule_is_truncated_after_the_last_deviation():
    d = [Decision((0, 1, 0), (0, 1), 0, 0, 1), Decision((0, 2, 0), (0, 1), 0, 1, 2),
         Decision((1, 0, 0), (0, 1), 1, 1, 2), Decision((1, 1, 0), (0, 1), None, 0, 3)]
    assert schedule_of(d) == [0, 1]
    assert deviations_of(d) == {(0, 2, 0): 1}
    assert [x.preemption for x in d] == [False, True, False, False]


def test_recording_strategy_is_lenient_and_defaults_like_replay():
    class Ex:
        trace: list = []
        current = None
        threads: list = []

        def name_of(self, tid):
            return f"T{tid}"

    s = RecordingStrategy(choices=[5])
    s.begin(0)
    ex = Ex()
    assert s.choose([0, 1], 0, ex) == 1  # thread 5 cannot run: still a deviation, to another thread
    assert s.choose([0, 1], 0, ex) == 0  # no more choices: the current thread goes on
    assert s.choose([1, 2], None, ex) == 1  # it blocked: the lowest enabled thread
    strict = RecordingStrategy(choices=[5], strict=True)
    strict.begin(0)
    ex.threads = [object(), object()]
    assert strict.choose([0, 1], 0, ex) == -1
    assert strict.divergence.startswith("decision 1: the schedule runs thread #5")


def cli(*args, cwd=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "interlace", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def test_cli_saves_the_shrunk_schedule_and_the_original_beside_it(tmp_path):
    out = cli("explore", COUNTER, "--seed", "3", "-n", "50", "-o", "s.json", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    shrunk = Schedule.load(str(tmp_path / "s.json"))
    original = Schedule.load(str(tmp_path / "s-original.json"))
    assert len(shrunk.choices) < len(original.choices)
    assert f"The schedule as found, before shrinking: {os.path.join('s-original.json')}" in out.stdout
    assert "Schedule shrunk from " in out.stdout
    assert out.stderr == ""  # no progress line when stderr is not a terminal
    for path in ("s.json", "s-original.json"):
        rep = cli("replay", path, cwd=tmp_path)
        assert rep.returncode == 1
        assert "AssertionError in the main function: lost update" in rep.stderr


def test_cli_no_shrink(tmp_path):
    out = cli("explore", COUNTER, "--seed", "3", "-n", "50", "-o", "s.json", "--no-shrink", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert not (tmp_path / "s-original.json").exists()
    assert "Schedule shrunk" not in out.stdout
    doc = json.loads((tmp_path / "s.json").read_text())
    assert len(doc["choices"]) > 10
