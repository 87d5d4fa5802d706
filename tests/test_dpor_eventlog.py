"""DPOR's bookkeeping on an event loop's turns: the thread's last event found without a backward scan
(``EventLog._last_event``), what the trace does not show put in place only when the events are read
(``EventLog.pending``), and no analysis of an execution with no decision (nothing to reverse)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

import interlace
from interlace.strategies.dpor.strategy import DPOR
from interlace.strategies.dpor.transitions import EventLog

pytestmark = pytest.mark.timeout(120)


def scan(events, tid):
    return next((p for p in range(len(events) - 1, -1, -1) if events[p].tid == tid), None)


def test_the_last_event_of_a_thread_is_the_backward_scans():
    log, ex = EventLog(), SimpleNamespace(trace=[])
    lock = SimpleNamespace(label="Lock@x.py:1", ident="Lock@x.py:1#0.1")
    for step in range(60):
        tid = (step * 7) % 4
        ex.trace.append(SimpleNamespace(tid=tid))
        if step % 3 == 0:
            log.hidden(ex, "acquire", SimpleNamespace(tid=(tid + 1) % 4), lock)  # a hidden event in place
        for t in range(5):
            log.sync(ex)
            assert log._last_event(t) == scan(log.events, t)
        log.hidden(ex, "release", SimpleNamespace(tid=tid), lock)
        log.sync(ex)  # (what hidden() is told waits until the events are read)
        assert log.released[id(lock)] == (tid, scan(log.events, tid))


def one_task_at_a_time():
    box = {"n": 0}

    async def bump():
        box["n"] += 1
        await asyncio.sleep(0)
        box["n"] += 1

    async def main():
        for _ in range(3):
            await asyncio.create_task(bump())

    asyncio.run(main())


def test_an_execution_with_no_decision_is_not_analysed(monkeypatch):
    analysed = []
    analysis = DPOR.analysis

    def spy(self, execution):
        analysed.append(len(self.nodes))
        return analysis(self, execution)

    monkeypatch.setattr(DPOR, "analysis", spy)
    result = interlace.explore(one_task_at_a_time, executions=5, strategy="dpor", seed=0)
    assert result.ok and result.executions == 1 and analysed == []  # one task ready at every turn: no decision

    def two_threads():
        import threading

        box = {"n": 0}

        def bump():
            box["n"] += 1

        threads = [threading.Thread(target=bump) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    result = interlace.explore(two_threads, executions=50, strategy="dpor", seed=0)
    assert result.executions > 1 and analysed and all(analysed)


def test_hidden_events_wait_until_the_events_are_read(monkeypatch):
    seen = []
    end = DPOR.end

    def spy(self, execution):
        seen.append((len(self.log.events), len(self.log.pending)))
        end(self, execution)

    monkeypatch.setattr(DPOR, "end", spy)
    result = interlace.explore(one_task_at_a_time, executions=1, strategy="dpor", seed=0)
    assert result.ok
    # no decision: nothing read the events, so no copy of the trace was made; the loop's releases and
    # runs of callbacks wait in ``pending``
    assert seen[0][0] == 0 and seen[0][1] > 0


def test_pending_hidden_events_go_where_they_were_told():
    log, ex = EventLog(), SimpleNamespace(trace=[])
    lock = SimpleNamespace(label="Lock@x.py:1", ident="Lock@x.py:1#0.1")
    waker, woken = SimpleNamespace(tid=0), SimpleNamespace(tid=1)
    ex.trace.extend([SimpleNamespace(tid=0), SimpleNamespace(tid=1)])
    log.hidden(ex, "acquire", waker, lock)
    log.hidden(ex, "release", waker, lock)
    ex.trace.append(SimpleNamespace(tid=1))
    log.hidden(ex, "woken", woken, lock)
    ex.trace.append(SimpleNamespace(tid=1))
    events = log.sync(ex)
    assert [e.tid for e in events] == [0, 1, 0, 1, 1] and events[2].kind == "internal"
    assert log.released[id(lock)] == (0, 2) and log.wakes == [(2, 1, 4)] and not log.pending
