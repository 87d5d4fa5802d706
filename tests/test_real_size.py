"""Programs of ordinary length: the scheduler's fast path, livelock judged by progress, no total step
bound, and decisions identical whether the fast path takes a point or the strategy is asked."""

from __future__ import annotations

import threading

import pytest

import interlace
from interlace.runtime import execution
from interlace.runtime.state import Choices
from interlace.strategies import PCT, TimeSlice


def counter_program(threads: int, increments: int, locked: bool):
    def program():
        lock = threading.Lock()
        box = {"n": 0}

        def work():
            for _ in range(increments):
                if locked:
                    with lock:
                        box["n"] += 1
                else:
                    box["n"] += 1

        ts = [threading.Thread(target=work) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not locked or box["n"] == threads * increments, box["n"]

    return program


def test_a_long_finite_program_is_not_a_livelock():
    result = interlace.explore(counter_program(2, 20_000, locked=True), executions=2, seed=3)
    assert result.ok, result.report()


def test_a_long_single_threaded_loop_is_not_a_livelock():
    def program():
        data = list(range(100))
        total = 0
        for i in range(60_000):
            total += data[i % 100]
        assert total == 60_000 * 99 // 2

    result = interlace.explore(program, executions=1, seed=1)
    assert result.ok, result.report()


def test_a_daemon_spinning_forever_does_not_keep_the_program_alive():
    def program():
        def spin():
            while True:
                pass

        threading.Thread(target=spin, daemon=True).start()

    for strategy in ("pct", "random", "pos"):
        result = interlace.explore(program, executions=5, seed=2, strategy=strategy)
        assert result.ok, result.report()


def test_threads_spinning_on_each_other_are_a_livelock_by_progress(monkeypatch):
    monkeypatch.setattr(execution, "LIVELOCK_WINDOW", 20_000)

    def program():
        flags = [False, False]

        def wait_for(i):
            while not flags[1 - i]:
                pass
            flags[i] = True

        ts = [threading.Thread(target=wait_for, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    result = interlace.explore(program, executions=1, seed=1, shrink=False, strategy="pct")
    assert result.failure.kind == "livelock", result.report()
    assert result.failure.message.startswith(
        "possible livelock: 20000 scheduling points with no progress (no shared write, no synchronisation, "
        "no thread starting, blocking or ending) while 'Thread-")
    assert "keeps running the loop at test_real_size.py:" in result.failure.message
    assert "while not flags[1 - i]:" in result.failure.message


def test_max_steps_is_an_explicit_bound():
    result = interlace.explore(counter_program(2, 500, locked=False), executions=1, seed=1, max_steps=300,
                               races="off")
    assert result.failure.kind == "livelock"
    assert result.failure.message.startswith("possible livelock: more than 300 steps (the max_steps limit); ")


def _choices(strategy, monkeypatch, fast: bool) -> list:
    """The decisions of one execution of a racy counter, with or without the fast path."""
    if not fast:
        monkeypatch.setattr(type(strategy), "quantum", lambda self, *a: 0, raising=False)
    runs = []
    interlace.explore(counter_program(3, 40, locked=False), executions=3, strategy=strategy, races="off",
                      on_execution=lambda i, ex: runs.append(list(ex.choices)))
    return runs


@pytest.mark.parametrize("make", [lambda: PCT(5, depth=3), lambda: PCT(9, depth=1), lambda: TimeSlice(4),
                                  lambda: PCT(7, depth=6, spin_limit=4, spin_doublings=3)],
                         ids=["pct3", "pct1", "timeslice", "pct6-spin4"])
def test_the_fast_path_makes_the_same_decisions_as_asking_the_strategy(make, monkeypatch):
    fast = _choices(make(), monkeypatch, fast=True)
    with monkeypatch.context() as m:
        slow = _choices(make(), m, fast=False)
    assert fast == slow
    assert all(len(run) > 100 for run in fast)


def test_choices_are_stored_as_runs():
    c = Choices([1, 1, 2])
    c.stay(3)
    c.append(0)
    assert list(c) == [1, 1, 2, 2, 2, 2, 0] and len(c) == 7
    assert c.runs() == [(1, 2), (2, 4), (0, 1)]
    assert c == [1, 1, 2, 2, 2, 2, 0] and c == Choices([1, 1, 2, 2, 2, 2, 0]) and c != [1, 2]


def test_a_thread_count_does_not_change_the_cost_of_a_point():
    """The same total work with 2 and with 64 threads: the strategy is asked at switches only, not at
    each of the ~6,000 scheduling points, however many threads there are."""
    for threads in (2, 64):
        asked: list = []
        result = interlace.explore(counter_program(threads, 2048 // threads, locked=False), executions=1,
                                   strategy=TimeSlice(1), races="off",
                                   on_execution=lambda i, ex, seen=asked: seen.append((ex.asked, len(ex.choices))))
        assert result.ok, result.report()
        (n_asked, n_decisions), = asked
        assert n_decisions > 5000 and n_asked < 600, (threads, n_asked, n_decisions)
