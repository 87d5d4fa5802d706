"""The native accelerator (interlace._speedups) against the pure-Python hooks and fast path.

The hard requirement: the same scheduling points, decisions and race reports either way, so that a
recording made with one replays with the other. Each check runs the same programs in two child
interpreters, one with ``INTERLACE_PURE=1``, and compares what they print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest import mock

import pytest

from interlace.runtime import fastpath

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ARTICLE = os.path.join(HERE, "speedups_article.py")
native = fastpath.native()
needs_native = pytest.mark.skipif(native is None, reason="interlace._speedups is not built (or INTERLACE_PURE=1)")


def _env(pure: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "INTERLACE_PURE"}
    if pure:
        env["INTERLACE_PURE"] = "1"
    return env


def _probe(pure: bool, *programs: str) -> dict:
    proc = subprocess.run([sys.executable, os.path.join(HERE, "speedups_probe.py"), *programs],
                          env=_env(pure), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@needs_native
@pytest.mark.timeout(300)
@pytest.mark.parametrize("programs", [("article", "locked"), ("loops", "globals", "bank"), ("calls",),
                                      ("shapes", "service", "names")])
def test_same_decisions_steps_and_races(programs) -> None:
    fast, pure = _probe(False, *programs), _probe(True, *programs)
    assert fast.pop("native") is True and pure.pop("native") is False
    hits = fast.pop("native hits")
    assert pure.pop("native hits") == dict.fromkeys(programs, 0)
    assert all(hits[p] > 100 for p in programs), hits  # the C fast path really ran
    assert fast == pure
    assert all(f"{p}/pct/free-threaded" in fast for p in programs)
    for name, case in fast.items():
        assert case["runs"], name


@needs_native
@pytest.mark.timeout(120)
def test_detector_only_mode_finds_the_same_races() -> None:
    fast, pure = _probe(False, "--detect"), _probe(True, "--detect")
    for name in fast:
        assert fast[name].pop("native hits") > 100, name
        assert pure[name].pop("native hits") == 0
    assert fast == pure
    assert fast["article"]["races"] == [[
        "DATA RACE (lost update) on counter: read at speedups_programs.py:27 (Thread-2 (run)) vs write at "
        "speedups_programs.py:27 (Thread-1 (run))",
        "Under the GIL of Python {}.{} it cannot manifest: each thread's accesses to counter within one statement "
        "run with no switch point between them. It can on free-threaded builds (3.13t and later) and on Python "
        "3.9 and earlier.".format(*sys.version_info[:2])]]
    assert all(case["races"] for case in fast.values())


def _run(pure: bool, *args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "interlace", *args], env=_env(pure), cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@needs_native
@pytest.mark.timeout(300)
@pytest.mark.parametrize("recorder", ["native", "pure"])
def test_a_recording_replays_with_the_other_path(tmp_path, recorder) -> None:
    """A recording made with one path replays with the other: same output, status and decisions."""
    path = str(tmp_path / "run.ilr")
    recorded = _run(recorder == "pure", "run", "--record", path, "--keep", "all", "--seed", "3",
                    "--hash-seed", "0", ARTICLE, "4", "3000", cwd=str(tmp_path))
    assert recorded.returncode == 0, recorded.stderr
    assert "DATA RACE (lost update) on counter" in recorded.stderr
    replayed = _run(recorder != "pure", "replay", path, cwd=str(tmp_path))
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == recorded.stdout
    assert "diverged" not in replayed.stderr
    assert "reproduced" in replayed.stderr or "replayed" in replayed.stderr, replayed.stderr


def test_pure_path_when_the_module_is_missing() -> None:
    """Without the extension (not built, or no compiler), interlace runs on the Python classes and hooks."""
    code = (
        "import sys; sys.modules['interlace._speedups'] = None\n"
        "import builtins, interlace, interlace.instrument\n"
        "from interlace.runtime import execution, fastpath, hooks\n"
        "assert fastpath.native() is None\n"
        "assert execution._FastPath is fastpath.FastPath\n"
        "assert builtins._il_rg is hooks._il_rg and builtins._il_loop is hooks._il_loop\n"
        "def f():\n"
        "    import threading\n"
        "    box = []\n"
        "    t = threading.Thread(target=box.append, args=(1,)); t.start(); t.join()\n"
        "r = interlace.explore(f, executions=3, seed=1, strategy='pct')\n"
        "print(r.ok, r.executions)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=_env(False), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True 3\n"


def test_pure_switch_forces_the_python_hooks() -> None:
    code = ("import builtins, interlace, interlace.instrument\n"
            "from interlace.runtime import execution, fastpath, hooks\n"
            "print(fastpath.native(), execution._FastPath is fastpath.FastPath, builtins._il_wg is hooks._il_wg)")
    proc = subprocess.run([sys.executable, "-c", code], env=_env(True), capture_output=True, text=True, timeout=60)
    assert proc.stdout == "None True True\n", proc.stderr


@needs_native
def test_native_fastpath_has_exactly_the_fields_of_the_reference() -> None:
    ref = fastpath.FastPath(True, False, True, float("inf"))
    fast = native.FastPath(True, False, True, float("inf"))
    fields = set(fastpath.FastPath.__slots__)
    assert fields == {name for name in dir(fast) if not name.startswith("_") and name != "taken"}
    for name in fields:
        assert getattr(fast, name) == getattr(ref, name), name
    assert fast.ident is None
    fast.ident = 2**40 + 3
    assert fast.ident == 2**40 + 3
    fast.ident = None
    assert fast.ident is None
    fast.budget = fast.granted = 10
    fast.budget -= 3
    assert fast.taken() == 3
    fast.limit = 25
    assert fast.limit == 25 and type(fast.limit) is int
    fast.decides = True
    assert fast.decides is True
    fast.told[(1, "x", "read", ("f", 1, 0), False)] = None
    fast.told.clear()
    assert fast.told == {}
    with pytest.raises(TypeError):
        fast.told = []


@needs_native
def test_native_hooks_are_installed_and_pass_through_outside_an_execution() -> None:
    import builtins

    import interlace.instrument  # noqa: F401 - installs the hooks
    from interlace.runtime import hooks

    assert builtins._il_rg is native._il_rg and hooks.HOOKS["_il_loop"] is native._il_loop
    box = {"k": 1}
    assert native._il_rs(box, "k", ("f", 1, 0)) == 1
    native._il_ws(5, box, "k", ("f", 1, 0))
    assert box == {"k": 5}
    assert native._il_wg("x", 7, ("f", 1, 0)) == 7
    assert native._il_rg("x", ("f", 1, 0)) is None
    assert native._il_rc(("f", 1, "g", "v"), ("f", 1, 0)) is None
    assert native._il_wc(("f", 1, "g", "v"), 3, ("f", 1, 0)) == 3
    assert native._il_loop(("f", 1, 0)) is None
    with pytest.raises(KeyError):
        native._il_rs(box, "missing", ("f", 1, 0))
    with pytest.raises(AttributeError):
        native._il_ra(box, "nope", ("f", 1, 0))


def test_the_classifier_says_what_every_call_of_a_callee_is() -> None:
    """What the native call hook remembers (CallClassifier.verdict): one answer for every callee of the
    same kind, or ASK when each call must be classified (an access named by its arguments, a
    substitution, a real lock's method)."""
    import collections
    import sys
    import textwrap
    import time

    from interlace.runtime.calls import ASK, CALL_POINT, NO_POINT, WHOLE_ACCESS, CallClassifier
    from interlace.runtime.patching import shadow_of, shadowed_types, substitutions

    sys.path.insert(0, HERE)
    try:
        import speedups_programs as p
    finally:
        sys.path.remove(HERE)
    mine = {p._twice.__code__, p.Tally.bump.__code__}
    c = CallClassifier(lambda code: code in mine, substitutions(), shadow_of, None, shadowed_types())
    assert c.verdict(p._twice) == (NO_POINT, "_twice")
    assert c.verdict(p.Tally().bump) == (NO_POINT, "Tally.bump")
    assert c.verdict(textwrap.dedent) == (CALL_POINT, "textwrap.dedent")
    assert c.verdict(p.Marker) == (CALL_POINT, "speedups_programs.Marker")
    assert c.verdict(abs) == (NO_POINT, "abs")
    assert c.verdict(bytearray().index) == (NO_POINT, "index")
    assert c.verdict("x".count) == (CALL_POINT, "str.count")
    assert c.verdict([].append) == (WHOLE_ACCESS, "write")  # the whole list, whatever the arguments
    assert c.verdict([].index) == (WHOLE_ACCESS, "read")
    assert c.verdict(collections.deque().popleft) == (WHOLE_ACCESS, "delete")
    assert c.verdict({}.update) == (WHOLE_ACCESS, "write") and c.verdict(set().add) == (WHOLE_ACCESS, "write")
    assert c.verdict({}.get) == (ASK, "")  # a keyed dict method: the key is in its arguments
    assert c.verdict([].sort) == (ASK, "")  # a walk of the list (it calls back)
    assert c.verdict(len) == (ASK, "")
    assert c.verdict(time.sleep) == (ASK, "")  # substituted by the virtual clock's
    assert c.verdict(p.EARLY_LOCK.acquire) == (ASK, "")  # a real lock's: its stand-in's
    assert c.manager_kept(type(p.EARLY_LOCK)) is False
    assert c.manager_kept(p.Tally) is True
    assert CallClassifier(shadow_factory=shadow_of).manager_kept(p.Tally) is False  # types unknown
    assert CallClassifier().manager_kept(type(p.EARLY_LOCK)) is True  # nothing is substituted


@needs_native
@pytest.mark.timeout(60)
def test_the_native_call_hook_remembers_each_callee_once() -> None:
    """After an execution, the native hooks' cache holds the classifier's verdict on each callee the
    program called (by its code, its method and type of instance, or itself), never a substituted one."""
    import sys
    import textwrap

    from interlace.drivers.session import Session
    from interlace.runtime.calls import ASK, CALL_POINT, NO_POINT, WHOLE_ACCESS
    from interlace.strategies import make_strategy

    sys.path.insert(0, HERE)
    try:
        import speedups_programs as p
    finally:
        sys.path.remove(HERE)
    with Session(p.main_calls, (), ()) as session:
        hits = native.hits()
        ex = session.run(make_strategy("pct", 1), "free-threaded", None)
        assert ex.failure is None
        assert native.hits() - hits > 1000
    cache = session.classifier.native
    assert cache.lookup(p._twice) == NO_POINT
    assert cache.lookup(p.Tally().bump) == NO_POINT
    assert cache.lookup(textwrap.dedent) == CALL_POINT
    assert cache.lookup(p.Marker) == CALL_POINT
    assert cache.lookup(bytearray().index) == NO_POINT
    assert cache.lookup(b"".upper) == CALL_POINT
    assert cache.lookup([].append) == WHOLE_ACCESS and cache.lookup({}.update) == WHOLE_ACCESS
    assert cache.lookup({}.get) == ASK and cache.lookup(len) == ASK
    assert cache.lookup(p.early_sleep) is None  # substituted: never remembered
    assert cache.lookup(print) is None  # never called
    size = len(cache)
    cache.clear()
    assert len(cache) == 0 < size


@needs_native
@pytest.mark.timeout(60)
def test_a_verdict_that_fails_means_ask_every_time_never_the_programs_error() -> None:
    import sys

    from interlace.drivers.session import Session
    from interlace.runtime.calls import ASK
    from interlace.strategies import make_strategy

    sys.path.insert(0, HERE)
    try:
        import speedups_programs as p
    finally:
        sys.path.remove(HERE)

    def broken(_what):
        raise ValueError("no verdict")

    with Session(p.main_calls, (), ()) as session:
        cache = session.classifier.native = native.Callees(broken, broken, ())
        ex = session.run(make_strategy("pct", 1), "free-threaded", None)
    assert ex.failure is None
    assert cache.lookup(p._twice) == ASK and cache.lookup(p.Marker) == ASK


@needs_native
@pytest.mark.timeout(120)
def test_the_native_fast_path_notes_a_kept_trace_in_a_list_or_a_tail() -> None:
    """With the trace kept (DPOR's), the C hooks note each access's event as Execution._traced does;
    into a report's TraceTail too (its len() and append()), which then holds the last events of the
    same trace."""
    import speedups_programs

    from interlace.drivers.session import Session
    from interlace.runtime.tracetail import TraceTail
    from interlace.strategies import make_strategy

    traces = []
    for tail in (None, TraceTail(keep=50)):
        hits = native.hits()
        with Session(speedups_programs.main_service, (), (), races="warn") as session:
            ex = session.run(make_strategy("dpor", seed=1), "free-threaded", None, tail=tail)
        assert native.hits() - hits > 100  # the C fast path ran
        traces.append(ex.trace)
    whole, tail = traces
    assert len(whole) > 200 and len(tail) == len(whole)
    assert list(tail.events) == whole[-50:]
    assert [e.index for e in whole] == list(range(1, len(whole) + 1))
    # the C path's events (plain values and a site) leave the collector's lists; the Python path's may stay
    import gc

    untracked = [e for e in whole if not gc.is_tracked(e)]
    assert len(untracked) > 100 and all(e.kind in ("read", "write", "call") for e in untracked)


@needs_native
def test_a_units_first_point_after_its_loop_handed_it_the_baton_is_made_in_c(monkeypatch) -> None:
    """A task's step that an event loop hands the baton to with no decision: its first access is made a
    point in C (FastPath.handed), as the slow path would with the same grant (execution.BUDGET_CAP), so
    the scheduler is asked at the turns that have a choice only. (The probe above compares what the two
    paths leave: decisions, steps, traces, each unit's run, site and pending operation.)"""
    sys.path.insert(0, os.path.dirname(__file__))
    import speedups_programs

    import interlace
    from interlace.runtime import execution

    assert native.BUDGET_CAP == execution.BUDGET_CAP
    spies = {}
    for name in ("_schedule", "choose_unit"):  # (mock's wrappers: the test's own code would be instrumented)
        real = getattr(execution.Execution, name)
        spies[name] = mock.create_autospec(real, side_effect=real)
        monkeypatch.setattr(execution.Execution, name, spies[name])
    result = interlace.explore(speedups_programs.main_service, executions=1, strategy="pct", seed=0)
    assert result.ok, result.failure
    turns, asked = spies["choose_unit"].call_count, spies["_schedule"].call_count
    assert turns > 20 and asked < turns / 3, (turns, asked)  # (each turn asked once before)
