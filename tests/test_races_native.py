"""The race detector's C path (``interlace._races``) gives the same reports as its Python path.

``RaceDetector.access`` and ``RaceDetector.sync`` hand the common accesses and synchronisations to
the native module, which does the same work on the same objects. Here every program of the race
corpus, the examples and asyncio programs (tasks alone, tasks and threads) is explored with both
paths in one process, and every race of every result is compared field by field: both accesses
(thread, kind, location, site, clock, number, atomicity, stack, line, key, GIL run, task), the
verdicts and the words of the report.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import sys
from unittest import mock

import pytest

import interlace
from interlace.detect import races, stacks
from interlace.drivers import session
from interlace.drivers.script import ScriptRunner

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = sorted(glob.glob(os.path.join(HERE, "race_corpus", "*.py")))
NATIVE = races._native
EXAMPLES = [os.path.join(ROOT, "examples", name)
            for name in ("async_cache.py", "async_cache_locked.py", "async_thread_race.py", "counter.py")]

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(NATIVE is None,
                       reason="interlace._races is not built (or INTERLACE_PURE=1): there is one path only"),
]


def tasks_and_a_thread():
    """Tasks under an asyncio.Lock and without, a hand-off through a Queue, a thread on the same dict."""
    box = {"n": 0, "seen": []}

    def reset():
        box["seen"].append(box["n"])
        box["n"] = 0

    async def main():
        lock = asyncio.Lock()
        queue: asyncio.Queue = asyncio.Queue()

        async def add(i):
            async with lock:
                box["n"] = box["n"] + 1
            box[i] = i
            await queue.put(i)

        tasks = [asyncio.create_task(add(i)) for i in range(3)]
        await asyncio.to_thread(reset)
        for _ in tasks:
            box["got"] = await queue.get()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def access_fields(a):
    return (a.tid, a.thread, a.kind, a.what, a.site, a.clock, a.number, a.atomic, a.stack, a.line, a.key,
            None if a.run is None else list(a.run), a.task)


def reports(target, monkeypatch, native, **options):
    """Everything a result says about races, with the C path on or off."""
    monkeypatch.setattr(races, "_native", native)
    result = interlace.explore(target, **options)
    return {
        "executions": result.executions,
        "ok": result.ok,
        "races": [(r.what, r.origin, r.started, r.gil, r.gil_reason, r.suppressed, r.execution, r.violation,
                   r.why, access_fields(r.current), access_fields(r.previous), r.format(), r.to_dict())
                  for r in result.races],
    }


def compare(target, monkeypatch, **options):
    taken = NATIVE.counts()[0]
    with_c = reports(target, monkeypatch, NATIVE, **options)
    assert NATIVE.counts()[0] > taken, "the C path did none of the work"
    without = reports(target, monkeypatch, None, **options)
    assert unnumbered(with_c) == unnumbered(without)
    return with_c


def unnumbered(found):
    """``found`` as text, without the numbers threading gives thread names process-wide (ThreadPoolExecutor-3_0
    in one exploration is ThreadPoolExecutor-7_0 in the next)."""
    return re.sub(r"(ThreadPoolExecutor-|Thread-)\d+", r"\1N", repr(found))


@pytest.mark.parametrize("path", CORPUS + EXAMPLES, ids=os.path.basename)
def test_the_c_path_reports_what_the_python_path_reports(path, monkeypatch):
    for strategy, seed in (("pct", 1), ("random", 2), ("portfolio", 3)):
        compare(ScriptRunner(path, []), monkeypatch, executions=8, seed=seed, strategy=strategy, races="warn",
                shrink=False)


def live_stacks(ignore, stacks=False):
    """A detector that captures every access's stack as it happens (as ``interlace run`` and detect-only
    mode do), instead of replaying the execution for the stacks of the accesses it reports."""
    return races.RaceDetector(ignore, stacks=True)


@pytest.mark.parametrize("path", [p for p in CORPUS if not os.path.basename(p).startswith("clean_")] + EXAMPLES,
                         ids=os.path.basename)
def test_stacks_captured_in_c_as_accesses_happen_are_those_captured_in_python(path, monkeypatch):
    monkeypatch.setattr(session, "RaceDetector", live_stacks)
    found = compare(ScriptRunner(path, []), monkeypatch, executions=4, seed=1, strategy="pct", races="warn",
                    shrink=False)
    assert all(r[-1]["current"]["stack"] and r[-1]["previous"]["stack"] for r in found["races"])


def nested(depth):
    if depth:
        return nested(depth - 1)
    return stacks.capture(), NATIVE.capture(), stacks.capture(2), NATIVE.capture(2)


def test_the_c_capture_is_the_python_capture_and_shares_its_stacks():
    python, c, python_short, c_short = nested(3)
    assert c is python  # the same tuple: one table of stacks
    assert c_short is python_short
    first = nested.__code__.co_firstlineno
    assert [(name, line - first) for _file, line, name in c[-4:]] == [("nested", 2)] * 3 + [("nested", 3)]
    assert c[-5][2] == "test_the_c_capture_is_the_python_capture_and_shares_its_stacks"
    assert c_short == c[-2:]


@pytest.mark.parametrize("strategy", ["pct", "portfolio", "random"])
def test_tasks_and_a_thread_give_the_same_reports(strategy, monkeypatch):
    found = compare(tasks_and_a_thread, monkeypatch, executions=4, seed=3, strategy=strategy, races="warn",
                    shrink=False)
    assert found["races"], "the program's races were not found: nothing was compared"


def test_the_benchmark_s_service_gives_the_same_reports_and_runs_nearly_all_in_c(monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    try:
        import bench_asyncio
    finally:
        sys.path.remove(os.path.join(ROOT, "bench"))
    taken, declined, *direct = NATIVE.counts()
    assert direct == [1, 1]  # Access and _Step objects made by filling their slots (see _races.c, Maker)
    found = compare(bench_asyncio.workload, monkeypatch, executions=2, seed=0, strategy="pct", races="warn",
                    shrink=False)
    assert [(r[0], r[7]) for r in found["races"]] == [("dict['n']", "")]  # the benign note
    more_taken, more_declined, *_ = NATIVE.counts()
    # the locations made at first use and the first units' accesses are the Python path's
    assert more_declined - declined < (more_taken - taken) / 20


def linked_list_read_by_threads(threads=6, items=40):
    """A producer thread links new ``[value, next]`` pairs; the consumers read each pair's ``next`` without
    the lock first (double-checked, as more-itertools' ``concurrent_tee``): every item a new location that
    every thread reads once, and one benign race that every consumer finds again at every item."""
    import threading

    head = [None, None]
    lock = threading.Lock()
    kept = [head]  # every pair lives to the end: no object dies during the run

    def produce():
        node = head
        for i in range(items):
            with lock:
                node[0] = i
                node[1] = [None, None]
                kept.append(node[1])
            node = node[1]

    def consume():
        node = head
        for _ in range(items):
            while node[1] is None:
                with lock:
                    pass
            node = node[1]

    workers = [threading.Thread(target=produce)] + [threading.Thread(target=consume) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_many_new_locations_read_by_many_threads_give_the_same_reports(monkeypatch):
    compare(linked_list_read_by_threads, monkeypatch, executions=3, seed=4, strategy="pct", races="warn",
            shrink=False)


def test_a_note_reported_already_is_not_handed_to_race_again(monkeypatch):
    """The consumers' unlocked read races with the producer's write of each new pair: found again by each
    consumer at many items, reported once. The C path asks whether it is noted already
    before calling RaceDetector._race; the Python path asks in _race."""
    calls = {}
    for path in (NATIVE, None):
        monkeypatch.setattr(races, "_native", path)
        race = mock.patch.object(races.RaceDetector, "_race", autospec=True, side_effect=races.RaceDetector._race)
        with race as race:
            result = interlace.explore(linked_list_read_by_threads, executions=1, seed=4, strategy="pct",
                                       races="warn", shrink=False)
        calls[path is NATIVE] = race.call_count
        assert [r.note for r in result.races] == [True]
    assert calls[True] == 1 < calls[False]  # (78 here: by the schedule of seed 4)


def test_the_detector_leaves_its_accesses_and_locations_to_reference_counting(monkeypatch):
    """The detector's objects form no cycle: those the C path makes or touches are untracked by the cyclic
    collector, which otherwise walks all of them at each full collection (most of the detector's time on
    100 threads reading a linked list of 30,000 items). Left tracked: the accesses the Python path makes
    (the first of each thread, before its clock exists) and the locations only Python saw."""
    import gc

    seen = {}

    def end(self, ex):
        reads = [a for loc in self.locations.values() for a in loc.reads.values()]
        seen["reads"] = (len(reads), sum(gc.is_tracked(a) for a in reads))
        shared = [loc for loc in self.locations.values() if len(loc.reads) > 1]
        seen["locations"] = (len(shared), sum(gc.is_tracked(loc) or gc.is_tracked(loc.reads) for loc in shared))
        return original(self, ex)

    original = races.RaceDetector.end
    monkeypatch.setattr(races.RaceDetector, "end", end)
    for path in (NATIVE, None):
        monkeypatch.setattr(races, "_native", path)
        interlace.explore(linked_list_read_by_threads, executions=1, seed=4, strategy="pct", races="warn",
                          shrink=False)
        seen[path is NATIVE] = (seen.pop("reads"), seen.pop("locations"))
    (reads, tracked_reads), (shared, tracked_locations) = seen[True]
    assert seen[False] == ((reads, reads), (shared, shared))  # the Python path: every one tracked
    assert reads > 6 * 40 and tracked_reads <= 7 and shared >= 40 and tracked_locations == 0


def twice():
    return [(stacks.capture(), NATIVE.capture()) for _ in range(2)]


def test_the_c_capture_s_cached_line_numbers_are_the_frames():
    """The C capture keeps each (code, instruction offset)'s line number; asked again at the same place it
    gives the same stack, and under a tracer (which may set a frame's line itself) it asks the frame."""
    (python, c), (python_again, c_again) = twice()
    assert c is python and c_again is python_again and c_again is c
    previous = sys.gettrace()
    sys.settrace(lambda *args: None)
    try:
        traced = nested(2)
    finally:
        sys.settrace(previous)
    assert traced[1] is traced[0] and traced[3] is traced[2]
    first = nested.__code__.co_firstlineno
    assert [(name, line - first) for _file, line, name in traced[1][-3:]] == [("nested", 2)] * 2 + [("nested", 3)]
    assert all(type(site[0]) is str for site in races._LINES)  # (the detector's table of lines is its own)


def settled_and_rebound():
    """``box`` is bound once before ``work`` is made (settled: instrument/scopes.py); ``flag`` is bound
    again after the thread is started: its read in ``work`` races with that write."""
    import threading

    box = {"n": 0}
    flag = False

    def work():
        box["n"] = 1 if flag else 2

    t = threading.Thread(target=work)
    t.start()
    flag = True
    t.join()
    assert box["n"] in (1, 2)


@pytest.mark.timeout(60)
def test_a_settled_closure_variable_is_no_location_and_one_bound_again_still_races(monkeypatch):
    seen = []
    original = races.RaceDetector.end

    def end(self, ex):
        seen.append(sorted(loc.what for loc in self.locations.values()))
        return original(self, ex)

    monkeypatch.setattr(races.RaceDetector, "end", end)
    for path in (NATIVE, None):
        monkeypatch.setattr(races, "_native", path)
        result = interlace.explore(settled_and_rebound, executions=1, seed=1, strategy="pct", races="warn",
                                   shrink=False)
        assert [(r.what, r.origin) for r in result.races] == [
            ("flag", "closure variable of settled_and_rebound() at test_races_native.py:" +
             str(settled_and_rebound.__code__.co_firstlineno))]
    # (box is read at work's line, bound once before work was made: no location, on both paths)
    assert seen[0] == seen[-1] and "box" not in seen[0] and "flag" in seen[0] and "dict['n']" in seen[0]


def test_the_c_path_works_on_the_attributes_each_begin_binds(monkeypatch):
    """The C path holds the detector's attributes (locations, clocks, last, ...) between its executions:
    __init__ and begin end with ``interlace._races.bind(self)``, and a detector met that is not the one
    bound is bound then.
    A detector begun again, another one, then the first again, each fed a lost update, end each execution
    in the state the Python path leaves (without the bind at a begin, the C path went on with the previous
    execution's containers: the new location kept no write)."""
    import threading

    from test_races import _DetectorHost

    from interlace.runtime.state import ThreadState

    def run():
        class Ex(_DetectorHost):
            os_threads = 2  # two OS threads: the atomicity checks run

        Ex.threads = [ThreadState(t, threading.current_thread()) for t in range(2)]
        box = {"n": 0}
        states = []

        def execution(detector):
            ex = Ex()
            detector.begin(ex)
            for tid, kind in ((0, "read"), (1, "read"), (0, "write"), (1, "write")):
                detector.access(ex, ex.threads[tid], kind, box, "n", (__file__, 7, 0), False)
            (location,) = detector.locations.values()
            states.append(([(r.violation, r.what) for r in detector.races],
                           (location.write.tid, location.write.kind, location.write.number),
                           sorted(detector.last), [c.c for c in detector.clocks], location.pub))

        first, second = races.RaceDetector(), races.RaceDetector()
        for detector in (first, first, second, first):  # (second is bound in between: first again after)
            execution(detector)
        return states

    native = run()
    monkeypatch.setattr(races, "_native", None)
    assert native == run()
    # (the threads' access numbers go on across the executions; each detector reports the race once: in
    # its next execution it is one seen already)
    assert [state[:2] for state in native] == [([("lost update", "dict['n']")], (1, "write", 2)),
                                               ([], (1, "write", 4)),
                                               ([("lost update", "dict['n']")], (1, "write", 6)),
                                               ([], (1, "write", 8))]
