"""Hang guards: a wait for another thread with a long timeout (``hang_guard`` seconds, default 1) ends
only when no other thread can run, as on any real machine; sleeps, a ``Timer``'s interval and short
timeouts still end before the others progress (time used as synchronisation is still found).

The programs are the shapes of cachetools' ``ThreadingTest`` (a ``Barrier(timeout=10)``, ``wait(10)``
asserted True, ``join(timeout=10)`` then ``is_alive()``) and of the bench corpus's ``sleep_as_sync``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

import interlace
from interlace import Schedule, ScheduleError

sys.path.insert(0, os.path.dirname(__file__))
from workers_programs import guarded_handshake  # noqa: E402 - importable by name in worker processes

pytestmark = pytest.mark.timeout(120)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = """
import threading
started = threading.Event()
t = threading.Thread(target=started.set)
t.start()
assert started.wait(10), "the worker did not start"
t.join(timeout=10)
assert not t.is_alive(), "the worker did not end"
"""


def sleep_as_sync() -> None:
    shared = {}

    def loader() -> None:
        shared["config"] = 1

    def user() -> None:
        time.sleep(5)
        assert shared["config"] == 1

    threads = [threading.Thread(target=loader), threading.Thread(target=user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_long_timeouts_are_hang_guards_by_default():
    result = interlace.explore(guarded_handshake, executions=200, seed=1)
    assert result.ok, result.report()
    assert result.executions == 200 or result.exhausted


def test_every_timeout_may_end_early_without_hang_guard():
    result = interlace.explore(guarded_handshake, executions=200, seed=1, hang_guard=None)
    assert not result.ok
    assert result.failure.kind == "exception"
    assert result.schedule.hang_guard is None
    # the schedule replays with the setting it was found with, from its JSON too
    again = interlace.replay(guarded_handshake, result.schedule.to_json())
    assert again.failure is not None and again.failure.message == result.failure.message


def test_timeouts_shorter_than_the_guard_still_end_early():
    result = interlace.explore(lambda: guarded_handshake(0.5), executions=200, seed=1)
    assert not result.ok
    assert result.failure.kind == "exception"
    assert result.schedule.hang_guard == 1.0
    passes = interlace.explore(lambda: guarded_handshake(0.5), executions=200, seed=1, hang_guard=0.5)
    assert passes.ok, passes.report()


def test_a_long_sleep_is_still_explored_as_synchronisation():
    result = interlace.explore(sleep_as_sync, executions=200, seed=1)
    assert not result.ok
    assert "KeyError" in result.failure.message


def test_a_timers_long_interval_is_a_delay_not_a_hang_guard():
    def program() -> None:
        fired = []
        timer = threading.Timer(5.0, lambda: fired.append(True))
        timer.start()
        timer.cancel()  # no scheduler promises this runs within the timer's five seconds
        timer.join()
        assert not fired, "the timer fired before it was cancelled"

    result = interlace.explore(program, executions=200, seed=1)
    assert not result.ok
    assert "fired before it was cancelled" in result.failure.message
    # the report says the failure rests on the timer's five seconds passing before the cancel
    assert [(name, seconds) for name, seconds, _ in result.early_wakes] == [(result.threads[1], 5.0)]
    report = result.report()
    assert (f"\nTiming: in this interleaving,\n  {result.threads[1]} (at test_hang_guard.py:92) woke from a "
            "sleep or timed wait of 5s while other threads could still run\n") in report
    assert [(w["thread"], w["seconds"], w["site"][1]) for w in result.to_dict()["early_wakes"]] == [
        (result.threads[1], 5.0, 92)]
    again = interlace.replay(program, result.schedule)
    assert again.early_wakes == result.early_wakes


def test_a_failure_that_waits_for_no_timeout_says_nothing_of_timing():
    result = interlace.explore(_lost_update_program, executions=200, seed=1, races="off")
    assert not result.ok and result.early_wakes == []
    assert "Timing:" not in result.report()


def _lost_update_program() -> None:
    box = {"n": 0}

    def add() -> None:
        box["n"] = box["n"] + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert box["n"] == 2, "lost update"


def test_a_hang_guard_still_expires_when_nothing_else_can_run():
    def program() -> None:
        never = threading.Event()
        t = threading.Thread(target=lambda: never.wait(30))
        start = time.monotonic()
        t.start()
        assert not never.wait(10)
        assert time.monotonic() - start == 10
        t.join(timeout=60)
        assert not t.is_alive()
        assert time.monotonic() - start == 30

    result = interlace.explore(program, executions=50, seed=1)
    assert result.ok, result.report()


def test_bad_hang_guards_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"hang_guard must be a number of seconds \(at least 0\) or None, not -1"):
        interlace.explore(guarded_handshake, hang_guard=-1)
    with pytest.raises(ValueError, match="not 'long'"):
        interlace.explore(guarded_handshake, hang_guard="long")
    text = Schedule(choices=[]).to_json().replace('"hang_guard": 1.0', '"hang_guard": "x"')
    with pytest.raises(ScheduleError, match=r"is damaged: \"hang_guard\" must be null or a number of seconds"):
        Schedule.from_json(text)


def test_a_schedule_from_before_hang_guards_replays_with_every_timeout_early():
    text = Schedule(choices=[1, 0]).to_json()
    assert '"hang_guard": 1.0' in text
    old = text.replace(',\n "hang_guard": 1.0', "")
    assert "hang_guard" not in old
    assert Schedule.from_json(old).hang_guard is None


def cli(*args: str, cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "interlace", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=100)


def test_the_command_line_option_of_explore_replay_and_run(tmp_path):
    (tmp_path / "guarded.py").write_text(SCRIPT)
    ok = cli("explore", "guarded.py", "-n", "30", "--seed", "1", "--json", cwd=str(tmp_path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    early = cli("explore", "guarded.py", "-n", "30", "--seed", "1", "--hang-guard", "none", "-o", "s.json",
                cwd=str(tmp_path))
    assert early.returncode == 1, early.stdout + early.stderr
    assert "AssertionError in the main function: the worker did not start" in early.stdout
    assert json.loads((tmp_path / "s.json").read_text())["hang_guard"] is None
    again = cli("replay", "s.json", cwd=str(tmp_path))
    assert again.returncode == 1 and "AssertionError in the main function: the worker did not start" in again.stderr
    bad = cli("explore", "guarded.py", "--hang-guard", "-2", cwd=str(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[-1] == ("interlace explore: error: argument --hang-guard: takes a number of "
                                           "seconds (at least 0) or 'none', not '-2'")
    run = cli("run", "--keep", "all", "--record", "r.ilr", "--hang-guard", "2.5", "-q", "guarded.py",
              cwd=str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    shown = cli("show", "r.ilr", cwd=str(tmp_path))
    assert ", hang guard 2.5s\n" in shown.stdout
