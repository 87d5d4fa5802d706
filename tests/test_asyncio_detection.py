"""What the race detector's shortcuts for asyncio rely on (see detect/races.py: ``_apart``, StackProbe).

- While an execution has one OS thread, the atomicity scans are skipped, but the checks and acts are
  kept: a thread started later still finds a lost update against a task's read-then-write made before
  it existed. OS threads are counted as such (a create_task that fails makes no unit).
- A race between two tasks still comes with both stacks (from the replay, which stops watching after
  its last wanted access), and an ordered hand-off is still not a race.
"""

from __future__ import annotations

import asyncio

import pytest

import interlace

pytestmark = pytest.mark.timeout(120)


def task_then_thread():
    """Task-2 increments before any other thread exists (a timer is due only when no step is ready, so
    Task-2's step runs before main's sleep ends); the worker thread resets the count later, with
    nothing ordering the two (main's sleep is no synchronisation with Task-2)."""
    box = {"n": 0}

    def reset():
        box["n"] = 0  # no read: only Task-2's read-then-write, kept from before, makes this a lost update

    async def early():
        box["n"] = box["n"] + 1

    async def main():
        task = asyncio.create_task(early())
        await asyncio.sleep(0.1)
        await asyncio.to_thread(reset)
        await task

    asyncio.run(main())


def test_a_thread_started_later_finds_the_lost_update_of_a_task_made_before_it():
    result = interlace.explore(task_then_thread, executions=1, strategy="pct", seed=2, races="warn")
    lost = [r for r in result.races if r.violation == "lost update"]
    assert [(r.what, r.current.thread, r.previous.thread) for r in lost] == [("dict['n']", "asyncio_0", "Task-2")]
    race = lost[0]
    assert (race.current.kind, race.previous.kind) == ("write", "write")
    assert race.why == ("this write can come between task 'Task-2''s read at test_asyncio_detection.py:31 and "
                        "its write at test_asyncio_detection.py:31, which then overwrites it")


def failed_task_then_thread():
    """A create_task that fails (not a coroutine) makes no unit: Task-1 and the worker thread still
    race on one counter, and the execution has two OS threads."""
    box = {"n": 0}

    def bump():
        box["n"] = box["n"] + 1

    async def main():
        try:
            asyncio.get_running_loop().create_task(None)
        except TypeError:
            pass
        pending = asyncio.create_task(asyncio.to_thread(bump))
        box["n"] = box["n"] + 1
        await pending

    asyncio.run(main())


def test_a_failed_create_task_does_not_hide_a_task_and_thread_lost_update():
    result = interlace.explore(failed_task_then_thread, executions=1, strategy="pct", seed=0, races="warn")
    assert [(r.what, r.violation) for r in result.races] == [("dict['n']", "lost update")]
    assert {result.races[0].current.thread, result.races[0].previous.thread} == {"Task-1", "asyncio_0"}


def two_tasks_racing():
    box = {"n": 0}

    async def add():
        box["n"] = box["n"] + 1
        await asyncio.sleep(0)

    async def main():
        await asyncio.gather(add(), add())

    asyncio.run(main())


def test_a_race_between_two_tasks_has_both_stacks():
    result = interlace.explore(two_tasks_racing, executions=1, strategy="pct", seed=0)
    assert [(r.what, r.note, r.current.thread, r.previous.thread) for r in result.races] == [
        ("dict['n']", True, "Task-3", "Task-2")]  # the tasks start in the order they were made
    race = result.races[0]
    for access in (race.current, race.previous):
        assert [(frame[1], frame[2]) for frame in access.stack] == [(82, "add")]
        assert access.stack[0][0] == __file__


def ordered_handoff():
    box = {}

    async def producer(queue):
        box["v"] = 1
        await queue.put("ready")

    async def consumer(queue):
        await queue.get()
        assert box["v"] == 1

    async def main():
        queue = asyncio.Queue()
        await asyncio.gather(consumer(queue), producer(queue))

    asyncio.run(main())


def test_an_ordered_handoff_between_tasks_is_no_race():
    result = interlace.explore(ordered_handoff, executions=30, strategy="random", seed=0)
    assert result.ok and result.races == []


def test_the_first_execution_captures_its_races_stacks_as_they_happen(monkeypatch):
    """The first execution the detector watches captures every access's stack (no replay for the stacks of
    its races); the others capture none, and a race they find gets its stacks from a replay. The stacks are
    those the replay captures."""
    from interlace.detect.races import RaceDetector
    from interlace.drivers.session import Session

    seen, replays = [], []
    begin, fill = RaceDetector.begin, Session._fill_stacks

    def spy_begin(self, ex):
        seen.append(self.stacks)
        begin(self, ex)

    def spy_fill(self, *args):
        replays.append(len(seen))
        fill(self, *args)

    monkeypatch.setattr(RaceDetector, "begin", spy_begin)
    monkeypatch.setattr(Session, "_fill_stacks", spy_fill)
    live = interlace.explore(two_tasks_racing, executions=3, strategy="random", seed=0, shrink=False)
    assert seen == [True, False, False] and replays == []  # (the race is found in the first execution)
    assert [(r.what, r.current.thread, r.previous.thread) for r in live.races] == [("dict['n']", "Task-3", "Task-2")]

    init = Session.__init__

    def replaying(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._live_stacks = False  # as before: the stacks by a replay of the execution

    monkeypatch.setattr(Session, "__init__", replaying)
    seen.clear()
    replayed = interlace.explore(two_tasks_racing, executions=3, strategy="random", seed=0, shrink=False)
    assert seen[0] is False and replays == [1]
    assert [(r.current.stack, r.previous.stack) for r in replayed.races] == [
        (r.current.stack, r.previous.stack) for r in live.races]
    assert all(r.current.stack and r.previous.stack for r in live.races)


def test_a_thread_started_by_a_to_thread_task_was_started_where_the_task_was_made():
    """The task of ``asyncio.to_thread`` runs only the standard library: the worker thread it starts
    was started on the program's line that made the task, not at an unknown place."""
    result = interlace.explore(failed_task_then_thread, executions=1, strategy="pct", seed=0, races="warn")
    assert result.races[0].started == {"asyncio_0": "test_asyncio_detection.py:65"}
    assert "  thread 'asyncio_0' was started at test_asyncio_detection.py:65" in result.races[0].format()
