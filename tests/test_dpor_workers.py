"""explore(strategy="dpor", workers=N): the workers run DPOR's executions ahead of it, and the
coordinator takes each in DPOR's order only if its own DPOR makes the same choices (drivers/dpor_workers.py).
The answer (the executions, their order, the failure, the class count) is one worker's for every N."""

import os
import pickle
import sys

import pytest

import interlace
from interlace.drivers import dpor_workers as dw
from interlace.drivers.workers import Job, Lane, _Merged
from interlace.strategies.dpor import DPOR
from interlace.strategies.dpor.wakeup import Branch

pytestmark = pytest.mark.timeout(120)

sys.path.insert(0, os.path.dirname(__file__))
import test_dpor_sequence as pinned  # noqa: E402 - the programs whose DPOR sequences are pinned
import workers_programs as programs  # noqa: E402 - importable by name in the workers
from test_workers import _answer  # noqa: E402


class InProcessPool:
    """``n`` workers in this process, sharing one lane: each poll runs one execution of one worker's
    subtree (in turn), so the coordinator meets every interleaving of speculation it must survive
    (recordings ahead of it, late, stale, a worker taken off its subtree), deterministically."""

    def __init__(self, lane: Lane, n: int, spoil: int = 0) -> None:
        self.lane, self.n = lane, n
        self.subtree = dw.SUBTREE
        self.runs: list = [None] * n
        self.out: list = []
        self.turn = 0
        self.spoil = spoil  # every ``spoil``-th recording after a subtree's first gets a choice it did not make
        self.sent = [0] * n
        self.count = 0

    def submit(self, w: int, payload: bytes) -> None:
        if self.runs[w] is not None:
            self.runs[w].close()
            self.out.append((w, dw._FINISHED))
        self.runs[w] = dw.run_subtree(self.lane, payload, lambda: True)
        self.sent[w] = 0

    def poll(self, timeout: float) -> list:
        for _ in range(self.n):
            w, self.turn = self.turn, (self.turn + 1) % self.n
            if self.runs[w] is not None:
                rec = next(self.runs[w], None)
                if rec is None:
                    self.runs[w] = None
                    self.out.append((w, dw._FINISHED))
                else:
                    self.sent[w] += 1
                    self.count += 1
                    if self.spoil and self.sent[w] > 1 and self.count % self.spoil == 0 and len(rec.choices) > 1:
                        # as if the worker's copy had changed since: the coordinator must refuse it, run it again
                        rec.choices[-1] = -1
                    self.out.append((w, rec))
                break
        out, self.out = self.out, []
        return out


def _taken(fn, executions, n, model, monkeypatch, spoil=0):
    """The schedules the coordinator takes, in order, with ``n`` in-process workers; and its coverage."""
    taken, stale = [], []
    replay = dw.replay

    def noting(dpor, index, rec):
        ok = replay(dpor, index, rec)
        (taken if ok else stale).append(tuple(rec.schedule))
        return ok

    monkeypatch.setattr(dw, "replay", noting)
    job = Job(fn, DPOR, executions, model, None, (), (), 5.0, "off", (), None)
    dpor = DPOR(7)
    with Lane(job) as lane:
        count = dw._coordinate(dpor, InProcessPool(lane, n, spoil), _Merged(executions), executions, None, 0.0, None)
    assert count == len(taken)
    return taken, dpor.coverage(), stale


@pytest.mark.parametrize(("fn", "executions", "model"), [
    (pinned.locked_counter, 60, "free-threaded"),
    (pinned.shared_data, 400, "free-threaded"),
    (pinned.shared_data, 120, "gil"),
    (pinned.handoffs, 400, "free-threaded"),
], ids=["locked_counter", "shared_data", "shared_data-gil", "handoffs"])
def test_the_coordinator_takes_dpors_executions_in_its_order(fn, executions, model, monkeypatch):
    one: list = []
    result = interlace.explore(fn, strategy="dpor", executions=executions, seed=7, races="off", shrink=False,
                               model=model, on_execution=lambda i, ex: one.append(tuple(ex.choices)))
    refused = 0
    for n in (2, 3):
        taken, coverage, stale = _taken(fn, executions, n, model, monkeypatch)
        assert taken == one
        assert coverage == result.coverage
        refused += len(stale)
    assert refused == 0  # with exact dependences, a worker's copy is as good as the coordinator's


def test_recordings_that_are_not_the_execution_are_run_again_and_change_nothing(monkeypatch):
    one: list = []
    result = interlace.explore(pinned.shared_data, strategy="dpor", executions=400, seed=7, races="off",
                               shrink=False, on_execution=lambda i, ex: one.append(tuple(ex.choices)))
    taken, coverage, stale = _taken(pinned.shared_data, 400, 3, "free-threaded", monkeypatch, spoil=3)
    assert taken == one and coverage == result.coverage
    assert len(stale) > 20


def test_workers_wait_when_far_ahead_and_the_recordings_of_nothing_waiting_are_forgotten(monkeypatch):
    one: list = []
    result = interlace.explore(pinned.handoffs, strategy="dpor", executions=400, seed=7, races="off",
                               shrink=False, on_execution=lambda i, ex: one.append(tuple(ex.choices)))
    monkeypatch.setattr(dw, "KEPT", 1)
    taken, coverage, _ = _taken(pinned.handoffs, 400, 3, "free-threaded", monkeypatch, spoil=4)
    assert taken == one and coverage == result.coverage


def test_a_recording_that_is_not_the_execution_is_refused_and_changes_nothing():
    # the second execution's recording, fed to a DPOR about to run its third: a choice differs
    job = Job(pinned.shared_data, DPOR, 3, "free-threaded", None, (), (), 5.0, "off", (), None)
    with Lane(job) as lane:
        recs = list(dw.run_subtree(lane, dw.branch_state(DPOR(0), 3), lambda: True))
    assert len(recs) == 3
    dpor = DPOR(0)
    assert dw.replay(dpor, 0, recs[0]) and dw.replay(dpor, 1, recs[1])
    before = pickle.dumps((dpor.coverage(), [[getattr(n, s) for s in n.__slots__] for n in dpor.nodes]))
    assert not dw.replay(dpor, 2, recs[1])
    after = pickle.dumps((dpor.coverage(), [[getattr(n, s) for s in n.__slots__] for n in dpor.nodes]))
    assert after == before
    assert dw.replay(dpor, 2, recs[2])
    assert dpor.coverage()["classes"] == 3


def test_a_deep_wakeup_sequence_travels_flat():
    root = branch = Branch(1, 1, (("write", "x"),))
    for k in range(5000):
        child = Branch(k % 3, k, (("read", "x"),))
        branch.children.append(child)
        branch = child
    root.children.append(Branch(2, 9, ()))
    back = dw._unflat(pickle.loads(pickle.dumps(dw._flat(root))))
    steps = []
    while back.children:
        steps.append((back.tid, back.idx, back.ops, len(back.children)))
        back = back.children[0]
    assert len(steps) == 5000 and steps[0] == (1, 1, (("write", "x"),), 2)
    assert steps[1] == (0, 0, (("read", "x"),), 1)


def _answers(fn, executions, workers=(1, 2, 3), **options):
    return [_answer(interlace.explore(fn, executions=executions, seed=3, strategy="dpor", workers=n, **options))
            for n in workers]


def test_dpor_on_workers_reports_the_failure_one_worker_finds_first():
    answers = _answers(programs.intermediate_state, 300)
    assert answers[0]["failure"] == "AssertionError in thread 'Thread-2 (reader)': saw the intermediate state"
    assert answers[0]["executions"] == 2
    assert answers[1] == answers[0] == answers[2]


def test_dpor_on_workers_says_every_class_was_explored_with_the_same_count_and_races():
    answers = _answers(programs.racy_flag, 1000, workers=(1, 3), races="warn")
    assert answers[0]["exhausted"] and answers[0]["coverage"]["complete"]
    assert answers[0]["coverage"]["classes"] == answers[0]["executions"]
    assert [execution for _, execution in answers[0]["races"]] == [0]
    assert answers[1] == answers[0]


def test_dpor_on_workers_counts_the_budget_in_its_order():
    answers = _answers(programs.locked_counter, 60, workers=(1, 2))
    assert answers[0]["ok"] and answers[0]["executions"] == 60 and not answers[0]["coverage"]["complete"]
    assert answers[1] == answers[0]


@pytest.mark.parametrize("bug", ["event_clear_race", "lost_wakeup", "abba_deadlock", "check_then_act"])
def test_the_coordinator_finds_the_corpus_bugs_at_one_dpors_execution(bug, monkeypatch):
    # bench/corpus bugs DPOR explores to the end (test_strategies_systematic.py): the same executions up to
    # the same first failure, or to the same end with the same coverage
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
    try:
        from corpus import load
    finally:
        sys.path.pop(0)
    fn = load(bug)
    one: list = []
    result = interlace.explore(fn, strategy="dpor", executions=2000, seed=7, races="off", shrink=False,
                               on_execution=lambda i, ex: one.append(tuple(ex.choices)))
    assert not result.ok or result.exhausted
    for n in (2, 3):
        taken, coverage, _ = _taken(fn, 2000, n, "free-threaded", monkeypatch)
        assert taken == one
        if result.ok:
            assert coverage == result.coverage
