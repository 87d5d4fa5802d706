"""The happens-before race detector and the lock-order detector, on a corpus of small programs.

``race_corpus/racy_*.py`` each contain a known atomicity violation (a lost update, a check-then-act):
it fails the run; the lines of the racing accesses carry a ``# RACE`` comment. ``race_corpus/note_*.py``
race in ways that break no atomic step (a flag, a single read against a single write): reported as
notes, the run passes. ``race_corpus/clean_*.py`` use every synchronisation primitive correctly.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
import threading
import weakref
from unittest import mock

import pytest

import interlace
from interlace.drivers.script import ScriptRunner

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "race_corpus")
RACY = sorted(glob.glob(os.path.join(CORPUS, "racy_*.py")))
CLEAN = sorted(glob.glob(os.path.join(CORPUS, "clean_*.py")))
NOTES = sorted(glob.glob(os.path.join(CORPUS, "note_*.py")))

pytestmark = pytest.mark.timeout(300)

sys.path.insert(0, HERE)
import workers_programs  # noqa: E402 - importable by name in the workers


def marked_groups(path):
    """``{group: lines}`` from ``# RACE`` (group "") and ``# RACE:name`` comments."""
    groups = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            for group in re.findall(r"# RACE(?::(\w+))?", line):
                groups.setdefault(group, set()).add(n)
    return groups


def lines_of(race):
    return {race.current.site[1], race.previous.site[1]}


def test_corpus_sizes():
    assert len(RACY) >= 12
    assert len(NOTES) >= 7
    assert len(CLEAN) >= 10


@pytest.mark.parametrize("path", RACY + NOTES, ids=os.path.basename)
def test_race_is_reported_on_the_first_execution_with_the_right_lines(path):
    result = interlace.explore(ScriptRunner(path, []), executions=1, seed=0, races="warn")
    assert result.executions == 1
    groups = marked_groups(path)
    assert result.races, f"no race reported in {os.path.basename(path)}"
    # an atomicity violation fails the run, predicted from this one execution; a benign race is a note
    assert any(r.fails for r in result.races) == (path in RACY), [r.summary() for r in result.races]
    for lines in groups.values():
        assert any(lines_of(r) == lines for r in result.races), (lines, [r.summary() for r in result.races])
    marked = set().union(*groups.values())
    for race in result.races:
        assert lines_of(race) <= marked, race.summary()
        assert race.current.stack and race.previous.stack
        assert race.current.stack[-1][1] == race.current.site[1]


@pytest.mark.parametrize("path", CLEAN, ids=os.path.basename)
def test_race_free_program_has_no_report_in_1000_executions(path):
    result = interlace.explore(ScriptRunner(path, []), executions=1000, seed=0, races="error")
    assert result.ok, result.report()
    assert result.races == [] and result.lock_inversions == []
    assert result.executions == 1000 or result.exhausted  # or the default's DPOR ran every class


def test_counter_race_report_text_and_gil_verdict():
    path = os.path.join(CORPUS, "racy_global_counter.py")
    result = interlace.explore(ScriptRunner(path, []), executions=1, seed=0)
    assert not result.ok
    assert result.failure.kind == "race"
    race = result.races[0]
    text = race.format()
    assert text.startswith("DATA RACE (lost update) on counter (global of module __main__)\n"
                           "  thread 'Thread-1 (work)' read this at racy_global_counter.py:9 and then wrote it at "
                           "racy_global_counter.py:9; the same read by thread 'Thread-2 (work)' can come between "
                           "the two\n")
    assert "by thread 'Thread-1 (work)' at racy_global_counter.py:9" in text
    assert "by thread 'Thread-2 (work)' at racy_global_counter.py:9" in text
    assert f'    File "{path}", line 9, in work\n      counter = counter + 1  # RACE' in text
    assert "thread 'Thread-1 (work)' was started at racy_global_counter.py:14" in text
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert race.gil is False
    assert race.gil_reason.startswith(f"Under the GIL of Python {version} it cannot manifest")
    assert "free-threaded builds" in race.gil_reason and "3.9 and earlier" in race.gil_reason
    assert "DATA RACE (lost update) on counter" in result.report()


def test_counter_with_a_call_manifests_under_the_gil():
    path = os.path.join(CORPUS, "racy_counter_with_call.py")
    result = interlace.explore(ScriptRunner(path, []), executions=1, seed=0)
    race = result.races[0]
    assert race.gil is True
    assert "can be switched out between its accesses to counter at racy_counter_with_call.py:13" in race.gil_reason


def test_lock_order_inversion_without_deadlock_is_reported(tmp_path):
    program = tmp_path / "abba.py"
    program.write_text(
        "import threading\n"
        "a = threading.Lock()\n"
        "b = threading.Lock()\n"
        "def one():\n"
        "    with a:\n"
        "        with b:\n"
        "            pass\n"
        "def two():\n"
        "    with b:\n"
        "        with a:\n"
        "            pass\n"
        "t = threading.Thread(target=one, name='one')\n"
        "t.start()\n"
        "t.join()\n"
        "u = threading.Thread(target=two, name='two')\n"
        "u.start()\n"
        "u.join()\n"
    )
    result = interlace.explore(ScriptRunner(str(program), []), executions=1, seed=0)
    assert not result.ok
    assert result.failure.kind == "race"
    assert "1 lock-order inversion(s) found" in result.failure.message
    inversion = result.lock_inversions[0]
    text = inversion.format()
    assert text.startswith("POTENTIAL DEADLOCK (lock-order inversion): 'two' takes Lock@abba.py:3 then Lock@abba.py:2; "
                           "'one' takes Lock@abba.py:2 then Lock@abba.py:3")
    assert ("thread 'two' acquired Lock@abba.py:2 at abba.py:10 while holding Lock@abba.py:3 "
            "(acquired at abba.py:9)") in text
    assert ("thread 'one' acquired Lock@abba.py:3 at abba.py:6 while holding Lock@abba.py:2 "
            "(acquired at abba.py:5)") in text


def _try_in_reverse(kind, how):
    """``one`` takes a then b; ``two`` holds b and only tries a (``how``): it would fail, not wait."""
    def program():
        a, b = getattr(threading, kind)(), getattr(threading, kind)()

        def one():
            with a:
                with b:
                    pass

        def two():
            with b:
                if a.acquire(**how):
                    a.release()

        for target in (one, two):
            t = threading.Thread(target=target)
            t.start()
            t.join()

    return program


@pytest.mark.parametrize("kind", ["Lock", "RLock"])
def test_an_acquire_that_cannot_wait_is_no_lock_order_inversion(kind):
    for how in ({"blocking": False}, {"timeout": 0}):
        result = interlace.explore(_try_in_reverse(kind, how), executions=3, seed=0)
        assert result.ok and result.lock_inversions == [], (how, result.report())
        assert interlace.detect(_try_in_reverse(kind, how)).lock_inversions == []
    # the same order taken by a blocking acquire (even a timed one) is an inversion
    for how in ({}, {"timeout": 5}):
        result = interlace.explore(_try_in_reverse(kind, how), executions=1, seed=0)
        assert len(result.lock_inversions) == 1, how
        assert interlace.detect(_try_in_reverse(kind, how)).lock_inversions != []


def _cycle_through(hand_over):
    return lambda: workers_programs.gate_cycle("third" if hand_over else "taker")


def test_a_cycle_through_a_lock_released_by_another_thread_is_no_inversion():
    result = interlace.explore(_cycle_through(hand_over=True), executions=20, seed=0)
    assert result.ok and result.lock_inversions == [], result.report()
    result = interlace.explore(_cycle_through(hand_over=False), executions=1, seed=0)
    assert [len(i.edges) for i in result.lock_inversions] == [3], result.report()


@pytest.mark.parametrize("workers", [None, 2])
def test_a_cycle_through_a_lock_any_execution_hands_over_is_no_inversion(workers):
    """The lock is handed over in some executions only: the exploration drops the cycle whichever
    execution found it, and the answer does not depend on the workers. Before, the executions where
    the lock's taker released it reported a potential deadlock (seed 0: the first execution)."""
    program = workers_programs.gate_sometimes_handed_over
    for strategy in ("pct", "random", "portfolio"):
        result = interlace.explore(program, executions=30, seed=0, strategy=strategy, workers=workers)
        assert result.ok and result.lock_inversions == [], (strategy, result.report())


def test_ignore_race_comment_suppresses_and_counts(tmp_path):
    program = tmp_path / "quiet.py"
    program.write_text(
        "import threading\n"
        "hits = [0]\n"
        "def work():\n"
        "    hits[0] += 1  # interlace: ignore-race\n"
        "ts = [threading.Thread(target=work) for _ in range(2)]\n"
        "for t in ts:\n"
        "    t.start()\n"
        "for t in ts:\n"
        "    t.join()\n"
    )
    result = interlace.explore(ScriptRunner(str(program), []), executions=5, seed=0)
    assert result.ok, result.report()
    assert result.suppressed_races == 1
    assert [r.suppressed for r in result.races] == [True]


def test_ignore_races_patterns_from_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.interlace]\nignore-races = ["Stats.*"]\n')
    monkeypatch.chdir(tmp_path)
    path = os.path.join(CORPUS, "racy_attribute.py")
    result = interlace.explore(ScriptRunner(path, []), executions=1, seed=0)
    assert result.ok
    assert result.suppressed_races == 1
    explicit = interlace.explore(ScriptRunner(path, []), executions=1, seed=0, ignore_races=[])
    assert not explicit.ok


def test_races_off_and_warn():
    path = os.path.join(CORPUS, "racy_attribute.py")
    off = interlace.explore(ScriptRunner(path, []), executions=3, seed=0, races="off")
    assert off.ok and off.races == []
    warn = interlace.explore(ScriptRunner(path, []), executions=3, seed=0, races="warn")
    assert warn.ok and len(warn.races) == 1
    with pytest.raises(ValueError, match="unknown races mode 'loud'"):
        interlace.explore(ScriptRunner(path, []), races="loud")


def test_races_as_json_data():
    path = os.path.join(CORPUS, "racy_dict_item.py")
    result = interlace.explore(ScriptRunner(path, []), executions=1, seed=0)
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["ok"] is False and doc["failure"]["kind"] == "race"
    race = doc["races"][0]
    assert race["what"] == "dict['apples']"
    assert race["current"]["line"] == 7 and race["previous"]["line"] == 7
    assert race["manifests_under_gil"] is False
    assert doc["schedule"]["format"] == "interlace-schedule"


def test_race_finding_is_shown_with_the_values_read():
    # the trace of a race finding (no failure) comes from a run that notes values, like a failure's
    path = os.path.join(CORPUS, "racy_dict_item.py")
    result = interlace.explore(ScriptRunner(path, []), executions=1, seed=0)
    assert result.failure.kind == "race"
    reads = [e for e in result.trace if e.kind == "read" and e.what == "dict['apples']"]
    assert reads and all(e.value is not None for e in reads)
    assert "read totals -> {'apples': 0}" in result.report()


def test_race_schedule_replays_to_the_same_race():
    path = os.path.join(CORPUS, "racy_check_then_act.py")
    runner = ScriptRunner(path, [])
    result = interlace.explore(runner, executions=1, seed=0)
    again = interlace.replay(runner, result.schedule)
    assert again.divergence is None
    assert [r.summary() for r in again.races] == [r.summary() for r in result.races]


def test_cli_races_modes_and_json(tmp_path):
    import subprocess

    root = os.path.dirname(HERE)
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "src"))
    path = os.path.join(CORPUS, "racy_global_counter.py")

    def run(*args, program=path):
        return subprocess.run([sys.executable, "-m", "interlace", "explore", *args, "-n", "3", "--seed", "1",
                               program], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    error = run()
    assert error.returncode == 1
    assert "1 data race(s) found; the first: DATA RACE (lost update) on counter" in error.stdout
    warn = run("--races", "warn")
    assert warn.returncode == 0
    assert warn.stdout.startswith("interlace: no failure in 3 executions")
    assert "DATA RACE (lost update) on counter (global of module __main__)" in warn.stdout
    off = run("--races", "off")
    assert off.returncode == 0 and "DATA RACE" not in off.stdout
    doc = json.loads(run("--json").stdout)
    assert doc["failure"]["kind"] == "race" and doc["races"][0]["what"] == "counter"
    assert doc["races"][0]["severity"] == "error" and doc["races"][0]["violation"] == "lost update"
    assert os.path.exists(os.path.join(tmp_path, doc["schedule_file"]))
    # a benign race: a note, with both stacks, in the text and the JSON; the run passes
    flag = os.path.join(CORPUS, "note_flag.py")
    note = run(program=flag)
    assert note.returncode == 0
    assert "NOTE: benign data race on done (global of module __main__)" in note.stdout
    assert "in finish\n      done = True  # RACE" in note.stdout
    assert "in check\n      return done  # RACE" in note.stdout
    doc = json.loads(run("--json", program=flag).stdout)
    assert doc["ok"] is True and doc["failure"] is None
    assert [(r["what"], r["severity"]) for r in doc["races"]] == [("done", "note")]
    assert all(r[side]["stack"] for r in doc["races"] for side in ("current", "previous"))


# -- detector-only mode: real threads, native scheduling ---------------------------------------------


@pytest.mark.parametrize("path", RACY + NOTES, ids=os.path.basename)
def test_detect_only_reports_each_race_with_real_threads(path):
    result = interlace.detect(ScriptRunner(path, []))
    if path in RACY:
        assert not result.ok
        assert result.failure.kind == "race", result.failure.traceback
    else:
        assert result.ok, result.report()
        assert all(r.note for r in result.races)
    marked = set().union(*marked_groups(path).values())
    assert result.races and all(lines_of(r) <= marked for r in result.races), [r.summary() for r in result.races]


@pytest.mark.parametrize("path", CLEAN, ids=os.path.basename)
def test_detect_only_is_quiet_on_race_free_programs(path):
    for _ in range(30):
        result = interlace.detect(ScriptRunner(path, []))
        assert result.ok, result.report()


def test_cli_run_detect_only(tmp_path):
    import subprocess

    root = os.path.dirname(HERE)
    env = dict(os.environ, PYTHONPATH=os.path.join(root, "src"))

    def run(name):
        return subprocess.run([sys.executable, "-m", "interlace", "run", "--detect-only", os.path.join(CORPUS, name)],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    racy = run("racy_dict_item.py")
    assert racy.returncode == 1
    assert "DATA RACE (lost update) on dict['apples']" in racy.stderr
    assert racy.stderr.rstrip().endswith("interlace: 1 problem(s) found with real threads (detector-only mode).")
    clean = run("clean_queue_handoff.py")
    assert clean.returncode == 0 and clean.stderr == ""
    assert not (tmp_path / ".interlace").exists()  # nothing recorded


def _four_item_tuples():
    import threading

    numbers, names = tuple(range(1, 5)), ("a.py", "b", "c", "d")
    out = []

    def work():
        out.append((numbers[1:3], numbers[0], names[0], names[-1]))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert out == [((2, 3), 1, "a.py", "d")]


def test_a_four_item_tuple_of_the_program_is_not_a_closure_variable():
    # cell variables are named by 4-tuples: a program's own 4-tuple was described as one, and its
    # first subscript raised TypeError inside the detector (more-itertools' divide, gray_product)
    result = interlace.explore(_four_item_tuples, executions=3, seed=0)
    assert result.ok, result.report()
    assert result.races == []
    native = interlace.detect(_four_item_tuples)
    assert native.ok, native.report()


class _StaleThread:
    """What an aborted execution used to leave in ``threading._limbo``: a Thread stopped in its
    bootstrap, whose OS id (here: every id) now belongs to another thread."""

    name = "Thread-2 (stale)"
    _ident = property(lambda self: __import__("_thread").get_ident())


@pytest.mark.timeout(60)
def test_detect_only_names_a_thread_by_its_start_not_by_a_stale_entry_with_its_id(monkeypatch):
    import threading

    # both threads of the program took the stale entry's identity: one thread, so no race at all (and
    # in CI, under another reused id, races against the start of the program's objects)
    monkeypatch.setitem(threading._limbo, _StaleThread(), None)
    path = os.path.join(CORPUS, "note_vars_alias.py")
    result = interlace.detect(ScriptRunner(path, []))
    assert result.ok, result.report()
    assert [lines_of(r) for r in result.races] == [set().union(*marked_groups(path).values())]
    assert [name.split(" ", 1)[1] for name in result.threads[1:]] == ["(set_mode)", "(get_mode)"]


def _fails_before_the_second_thread_boots():
    import threading

    def waiter():
        raise AssertionError("first")

    def worker():
        pass

    a, b = threading.Thread(target=waiter), threading.Thread(target=worker)
    a.start()
    b.start()
    a.join()
    b.join()


def test_an_aborted_execution_leaves_no_thread_in_threadings_registry():
    import threading

    # (with some of these seeds the main thread is inside the worker's start() when the waiter fails)
    before = (set(threading._limbo), set(threading._active.values()))
    for seed in range(5):
        result = interlace.explore(_fails_before_the_second_thread_boots, executions=20, seed=seed, strategy="random")
        assert not result.ok and "first" in result.failure.message
    assert (set(threading._limbo), set(threading._active.values())) == before


def test_detect_only_state_stays_bounded_and_a_hot_loop_still_reports_its_race(monkeypatch):
    # A long run must not grow the detector's memory with the number of accesses (only with the
    # number of locations), and the same-epoch shortcut must not lose the race of a hot loop.
    import threading

    from interlace.drivers import detect_only as native

    made = []

    class Recording(native.RaceDetector):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(native, "RaceDetector", Recording)
    box = {"n": 0}

    def spin():
        for _ in range(20_000):
            box["n"] += 1  # RACE: the main thread reads it unsynchronised

    def main():
        box["n"] = 0
        t = threading.Thread(target=spin)
        t.start()
        seen = box["n"]
        t.join()
        assert seen >= 0

    result = interlace.detect(main)
    detector = made[0]
    # dict['n'] (box and spin are settled closure variables: no location), per thread: nothing per access
    assert len(detector.locations) == 1 and len(detector.last) <= 2
    assert [r.what for r in result.races] == ["dict['n']"]
    source = open(__file__).read().splitlines()
    race = result.races[0]
    assert {source[a.site[1] - 1].strip() for a in (race.current, race.previous)} == {
        'box["n"] += 1  # RACE: the main thread reads it unsynchronised', 'seen = box["n"]'}


@pytest.mark.timeout(60)
def test_detect_only_tells_a_read_once_it_happened(monkeypatch):
    # With real threads a read told before it happens may see a write told after it: the consumer
    # would read the published payload without the edge of the store that published it, a false race
    # on ``payload``. Reads are told once done (writes before), so the detector's order is one the
    # program could have run in: here the consumer read ``ready`` before the store, and saw False.
    import detect_window

    from interlace.drivers import detect_only as native

    monkeypatch.setattr(native.NativeExecution, "access", detect_window.forced_window(native.NativeExecution.access))
    path = os.path.join(CORPUS, "note_publication.py")
    marked = set().union(*marked_groups(path).values())
    result = interlace.detect(ScriptRunner(path, []), exclude=["detect_window"])
    assert result.ok, result.report()
    assert [lines_of(r) for r in result.races] == [marked]
    # told before the read (as a controlled execution must, where it is the scheduling point): the
    # consumer saw True, read the payload, and the edge of the publishing store was missed
    monkeypatch.setattr(native.NativeExecution, "reads_first", False)
    early = interlace.detect(ScriptRunner(path, []), exclude=["detect_window"])
    assert [lines_of(r) for r in early.races] == [marked, {14, 20}], [r.summary() for r in early.races]


class _Obj:
    pass


def _weakly_referenced_objects_die_and_ids_are_reused():
    import gc
    import threading
    import weakref

    item = _Obj()
    item.value = 1
    assert item.value == 1
    ref = weakref.ref(item)
    del item
    gc.collect()
    assert ref() is None, "the detector kept an object of the program alive"

    def churn(n):
        for i in range(n):
            o = _Obj()  # dies at once; the next one often gets the same id
            o.x = i
            assert o.x == i

    ts = [threading.Thread(target=churn, args=(300,)) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_detectors_keep_no_object_alive_and_a_reused_id_is_a_new_object():
    result = interlace.explore(_weakly_referenced_objects_die_and_ids_are_reused, executions=3, seed=0,
                               strategy="random")
    assert result.ok, result.report()
    native = interlace.detect(_weakly_referenced_objects_die_and_ids_are_reused)
    assert native.ok, native.report()


def test_an_object_that_died_is_forgotten_before_its_id_names_another():
    import threading

    from interlace.detect.races import RaceDetector
    from interlace.runtime.state import ThreadState

    class Ex(_DetectorHost):
        threads = [ThreadState(0, threading.current_thread()), ThreadState(1, threading.current_thread())]

    ex = Ex()
    detector = RaceDetector()
    detector.begin(ex)
    one, two = ex.threads
    site = (__file__, 1, 0)
    first = _Obj()
    old_id = id(first)
    detector.access(ex, one, "write", first, "x", site, False)  # as the hook does: tell, then store
    first.x = 1
    del first  # freed at once; the allocator hands the same address to the next object of its size
    second = _Obj()
    if id(second) != old_id:
        pytest.skip("the allocator did not reuse the address")
    # no reference, no weak reference: the new object is told by its constructor storing an attribute
    # that the old one had and it does not have yet
    detector.access(ex, two, "write", second, "x", site, False)
    second.x = 2
    assert detector.races == []  # thread 'two' wrote a new object, not the dead one
    detector.access(ex, one, "write", second, "x", site, False)
    second.x = 3
    assert [r.what for r in detector.races] == ["_Obj.x"]  # and that new object's own race is found
    assert weakref.getweakrefcount(second) == 0


def _nested_race():
    import threading

    box = {"n": 0}

    def bump():
        box["n"] += 1

    def helper():
        bump()

    def work():
        helper()

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_stacks_of_a_race_found_while_exploring_come_from_a_replay_and_are_whole():
    # explore does not capture a stack at every access: it replays an execution that found a race
    # and captures the two racing accesses' stacks there; they must be the whole stacks
    result = interlace.explore(_nested_race, executions=1, seed=0)
    assert result.failure.kind == "race"
    race = result.races[0]
    for access in (race.current, race.previous):
        assert [name for _file, _line, name in access.stack] == [
            "run", "work", "helper", "bump"], access.stack
    detected = interlace.detect(_nested_race)  # real threads: captured as they happen, the same frames
    assert [f[2] for f in detected.races[0].current.stack] == ["run", "work", "helper", "bump"]


def test_at_most_max_kept_objects_are_known_and_none_is_kept_alive(monkeypatch):
    import threading

    from interlace.detect import races as races_module
    from interlace.runtime.state import ThreadState

    monkeypatch.setattr(races_module, "MAX_KEPT", 3)

    class Ex(_DetectorHost):
        threads = [ThreadState(0, threading.current_thread())]

    ex = Ex()
    detector = races_module.RaceDetector()
    detector.begin(ex)
    lists = [[i] for i in range(5)]
    for items in lists:
        detector.access(ex, ex.threads[0], "write", items, 0, (__file__, 1, 0), False)
    del items
    assert list(detector.objects) == [id(items) for items in lists[2:]]  # the two oldest forgotten
    assert len(detector.locations) == 3
    assert all(sys.getrefcount(lists[i]) == 2 for i in range(5))  # from `lists` and getrefcount's argument


class _DetectorHost:
    """What a RaceDetector asks of the execution it observes, for tests that feed it accesses by hand:
    every access is numbered, and no GIL switch point or back-edge lies between them."""

    from interlace.runtime.execution import Execution as _Execution

    describe = _Execution.describe
    controlled = False  # threads are not added as they are started: the detector keeps everything

    def gil_clock(self, ts) -> int:
        return 0

    def access_number(self, ts) -> int:
        ts.accesses += 1
        return ts.accesses

    def back_edge_count(self, ts) -> int:
        return ts.back_edges



MANY_THREADS = """
import sys
import threading

shared = 0


def work():
    global shared
    for _ in range(20):
        shared = shared + 1


workers = [threading.Thread(target=work) for _ in range(int(sys.argv[1]))]
for w in workers:
    w.start()
for w in workers:
    w.join()
"""


@pytest.mark.parametrize("threads", [4, 48])
def test_a_lost_update_repeated_by_many_threads_costs_the_detector_the_same_per_access(threads, tmp_path,
                                                                                         monkeypatch):
    """The atomicity checks skip a line whose violation is reported (detect.races._BySite): before, each
    access walked every thread's entries (the seed article's 400 threads: 2x the CPU of the run) and
    built a Race with its words for every repeat of the one lost update. Counted on the Python path
    (interlace._races makes the same calls in C, which no mock sees; test_races_native compares them)."""
    from interlace.detect import races

    monkeypatch.setattr(races, "_native", None)
    script = tmp_path / "many.py"
    script.write_text(MANY_THREADS)
    # mock's wrappers, not functions of this (instrumented) module: the detector would see their accesses
    built = mock.patch.object(races.Race, "__init__", autospec=True, side_effect=races.Race.__init__)
    asked = mock.patch.object(races.RaceDetector, "_unreported", autospec=True,
                              side_effect=races.RaceDetector._unreported)
    checked = mock.patch.object(races.RaceDetector, "_atomicity", autospec=True,
                                side_effect=races.RaceDetector._atomicity)
    with built as built, asked as asked, checked as checked:
        result = interlace.explore(ScriptRunner(str(script), [str(threads)]), strategy="pct", seed=1, executions=1,
                                   races="warn")
    assert [r.violation for r in result.races] == ["lost update"]
    assert built.call_count == 1  # the one race reported, not one per thread that repeats it
    assert checked.call_count > 4 * threads  # accesses checked for atomicity violations
    assert asked.call_count < 3 * checked.call_count  # a few questions per access, whatever the threads


def test_equal_stacks_are_kept_once():
    """Memory at real size: 100 threads reading one linked list of 10,000 items kept an equal stack per
    access."""
    from interlace.detect.stacks import capture

    stacks = [capture() for _ in range(2)]
    assert stacks[0] == stacks[1] and stacks[0] is stacks[1]


def _alone_then_a_lost_update():
    import threading

    box = {}
    for i in range(200):
        box[i] = i  # the main thread alone: ordered before everything the threads below do

    def add():
        box["n"] = box.get("n", 0) + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_what_the_only_thread_does_is_not_kept_but_where_objects_were_first_used_is():
    from interlace.detect import races as races_module

    kept = []
    real_end = races_module.RaceDetector.end

    def end(self, ex):
        kept.append(sorted(str(lk[1]) for lk in self.locations if lk[0] == id_box[0]))
        real_end(self, ex)

    id_box = []
    real_access = races_module.RaceDetector.access

    def access(self, ex, ts, kind, obj, key, site, atomic):
        if type(obj) is dict and key == 0 and not id_box:
            id_box.append(id(obj))
        real_access(self, ex, ts, kind, obj, key, site, atomic)

    with mock.patch.object(races_module.RaceDetector, "end", end), \
            mock.patch.object(races_module.RaceDetector, "access", access):
        result = interlace.explore(_alone_then_a_lost_update, executions=1, seed=1, races="warn")
    assert kept == [["n"]]  # not the 200 keys the main thread wrote alone
    [race] = result.races
    assert race.violation == "lost update" and race.what == "dict['n']"
    line = _alone_then_a_lost_update.__code__.co_firstlineno + 5
    assert race.origin == f"object first used at test_races.py:{line}"


READ_BEFORE_A_POLL = """
import threading
import time


class Box:
    n = 0
    go = False


box = Box()


def bump():
    v = box.n  # this read, made before the poll, is the check of the write below
    while not box.go:
        time.sleep(0.001)
    box.n = v + 1


box.go = True
threads = [threading.Thread(target=bump) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


@pytest.mark.parametrize("strategy", ["pct", "random", "portfolio"])
def test_only_the_reads_that_end_a_poll_see_what_ended_it(strategy, tmp_path):
    """A poll's exit orders the write its test read before what follows (note_poll_consume.py), but
    not the writes a read made before the loop saw: the two threads' ``v = box.n`` ... ``box.n = v + 1``
    around a poll that ends at once are still a lost update, predicted from any execution."""
    script = tmp_path / "poll.py"
    script.write_text(READ_BEFORE_A_POLL)
    result = interlace.explore(ScriptRunner(str(script), []), strategy=strategy, seed=3, executions=1,
                               races="warn")
    failing = [(r.violation, lines_of(r)) for r in result.races if r.fails]
    assert ("lost update", {18}) in failing, failing  # the other thread's write can come between 15 and 18
    assert all(lines <= {15, 18} for _, lines in failing), failing
