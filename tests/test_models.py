"""The two semantic models: free-threaded (switch at any shared access) and GIL (CPython 3.10+)."""

from __future__ import annotations

import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(120)

G = 0


def one(x):
    return x


def increments(with_call: bool):
    def program():
        global G
        G = 0

        def work():
            global G
            for _ in range(2):
                if with_call:
                    G = G + one(1)
                else:
                    G = G + 1

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert G == 4, G

    return program


def test_plain_increment_is_atomic_under_the_gil_model():
    result = interlace.explore(increments(False), executions=500, seed=1, model="gil", races="warn")
    assert result.ok, result.report()
    # the race is still there, and is reported as one the GIL of this version hides
    assert [r.gil for r in result.races] == [False]


def test_increment_with_a_call_loses_updates_under_the_gil_model():
    result = interlace.explore(increments(True), executions=500, seed=1, model="gil")
    assert not result.ok
    assert result.model == "gil"
    assert result.failure.message.startswith("AssertionError in the main function: ")
    assert "model gil" in result.report()


@pytest.mark.parametrize("with_call", [False, True])
def test_free_threaded_model_loses_updates_either_way(with_call):
    result = interlace.explore(increments(with_call), executions=500, seed=1)
    assert not result.ok
    assert "model free-threaded" in result.report()


def test_gil_model_schedule_replays_under_the_gil_model():
    result = interlace.explore(increments(True), executions=500, seed=2, model="gil")
    assert result.schedule.model == "gil"
    again = interlace.replay(increments(True), result.schedule)
    assert again.model == "gil"
    assert again.failure.message == result.failure.message


def test_unknown_model_is_rejected():
    with pytest.raises(ValueError, match="unknown model 'nogil'; choose one of: free-threaded, gil"):
        interlace.explore(increments(False), model="nogil")
