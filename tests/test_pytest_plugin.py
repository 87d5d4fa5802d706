"""The pytest plugin, exercised the way users meet it: pytest runs on small test files (pytester).

Every inner run is a subprocess (interlace instruments and patches the process it runs in), with
the plugin loaded through its ``pytest11`` entry point exactly as an installed interlace loads it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
INNER_TIMEOUT = "--timeout=90"

RACY = """
    import threading

    def test_lost_update():
        state = {"n": 0}

        def work():
            state["n"] += 1

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert state["n"] == 2

    def test_locked_counter():
        state = {"n": 0}
        lock = threading.Lock()

        def work():
            with lock:
                state["n"] += 1

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert state["n"] == 2
"""


def _entry_point_installed() -> bool:
    return any(ep.name == "interlace" for ep in importlib.metadata.entry_points(group="pytest11"))


@pytest.fixture
def inner(pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """pytester whose subprocess runs load interlace's plugin through the ``pytest11`` entry point.

    When interlace is not installed (the repository's tests run from the source tree), a minimal
    distribution that declares only that entry point is put on the path: pytest then finds and loads
    the plugin exactly as it does for an installed interlace.
    """
    paths = [str(SRC)]
    if not _entry_point_installed():
        shim = tmp_path_factory.mktemp("entry-point")
        info = shim / "interlace_pytest_entry_point-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: interlace-pytest-entry-point\nVersion: 0\n")
        (info / "entry_points.txt").write_text("[pytest11]\ninterlace = interlace.pytest_plugin\n")
        paths.append(str(shim))
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths + ([old] if old else [])))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("BANK_FIXED", raising=False)
    monkeypatch.setenv("COLUMNS", "120")
    for variable in ("CI", "BUILD_NUMBER"):  # pytest words its summary differently on CI; a test opts in
        monkeypatch.delenv(variable, raising=False)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, INNER_TIMEOUT)


def summary_lines(result: pytest.RunResult) -> dict[str, str]:
    """The per-test lines of the ``interlace`` terminal summary, by test id."""
    lines = {}
    for line in result.outlines:
        m = re.match(r"^(\S+::\S+): (\d+ executions?|replayed)", line)
        if m:
            lines[m.group(1)] = line
    return lines


def replay_args(result: pytest.RunResult, test: str) -> list[str]:
    """The arguments of the replay command printed for ``test`` (the last line of its report)."""
    commands = [line for line in result.outlines if line.startswith(f"Replay it: pytest '{test}'")]
    assert len(commands) == 1, result.stdout.str()
    words = shlex.split(commands[0][len("Replay it: "):])
    assert words[0] == "pytest"
    return words[1:]


# -- finding, reporting, replaying ---------------------------------------------------------------------


def test_racy_test_fails_with_report_and_replay_command_that_reproduces_it_10_of_10(inner):
    inner.makepyfile(test_racy=RACY)
    result = run(inner, "--interlace")
    result.assert_outcomes(failed=1, passed=1)
    out = result.stdout.str()
    assert "interlace found a failure after" in out
    assert "AssertionError in the main function: assert 1 == 2" in out
    assert "Interleaving (" in out and "~~ preempted ~~" in out
    assert "DATA RACE (lost update) on dict['n']" in out
    # pytest/pluggy frames between the plugin and the test are left out of the report
    assert "pluggy" not in out.split("FAILURES")[1].split("short test summary")[0]
    args = replay_args(result, "test_racy.py::test_lost_update")
    assert args == ["test_racy.py::test_lost_update",
                    "--interlace-replay=.interlace/pytest/test_racy.py_test_lost_update.json"]
    # the replay command is the end of the report
    lines = result.outlines
    at = next(i for i, line in enumerate(lines) if line.startswith("Replay it:"))
    assert lines[at + 1].startswith("=") or lines[at + 1].startswith("_")
    schedule = inner.path / ".interlace" / "pytest" / "test_racy.py_test_lost_update.json"
    assert schedule.is_file() and '"pytest": "test_racy.py::test_lost_update"' in schedule.read_text()

    for _ in range(10):
        again = run(inner, *args)
        again.assert_outcomes(failed=1)
        again.stdout.fnmatch_lines([
            "*AssertionError in the main function: assert 1 == 2*",
            "Reproduced by replaying .interlace/pytest/test_racy.py_test_lost_update.json",
        ])
        assert "test_racy.py::test_lost_update: replayed 1 schedule" in again.stdout.str()


def test_html_timeline_of_a_failing_test_next_to_its_schedule(inner):
    inner.makepyfile(test_racy=RACY)
    result = run(inner, "--interlace", "--interlace-html", "-k", "lost_update")
    result.assert_outcomes(failed=1, deselected=1)
    page = inner.path / ".interlace" / "pytest" / "test_racy.py_test_lost_update.html"
    lines = result.outlines
    at = lines.index("HTML report: .interlace/pytest/test_racy.py_test_lost_update.html")
    assert lines[at + 2].startswith("Replay it: pytest 'test_racy.py::test_lost_update'")  # still the last
    text = page.read_text()
    assert "<html" in text and "test_racy.py::test_lost_update" in text and "--interlace-replay=" in text
    plain = run(inner, "--interlace", "-k", "lost_update")
    assert not any(line.startswith("HTML report:") for line in plain.outlines)


@pytest.mark.parametrize("ci", ["", "1"], ids=["terminal", "ci"])
def test_the_short_summary_gives_a_failed_exploration_one_line(inner, monkeypatch, ci):
    # On CI (and with -vv) pytest prints the whole failure message in the short summary: it must be the
    # headline, not the forty-line report a second time.
    monkeypatch.setenv("CI", ci)
    inner.makepyfile(test_racy=RACY)
    result = run(inner, "--interlace", "-k", "lost_update", "-rf")
    result.assert_outcomes(failed=1, deselected=1)
    failed = [line for line in result.outlines if line.startswith("FAILED ")]
    assert failed == ["FAILED test_racy.py::test_lost_update - interlace: AssertionError in the main function: "
                      "assert 1 == 2"]
    assert sum(line.startswith("Replay it:") for line in result.outlines) == 1


def test_correct_test_passes_and_the_summary_counts_executions_and_interleavings(inner):
    inner.makepyfile(test_racy=RACY)
    result = run(inner, "--interlace", "-k", "locked")
    result.assert_outcomes(passed=1, deselected=1)
    lines = summary_lines(result)
    assert list(lines) == ["test_racy.py::test_locked_counter"]
    m = re.search(r": 100 executions, (\d+) distinct interleavings, ([\d.]+)s \(seed (\d+)\) \[ok\]",
                  lines["test_racy.py::test_locked_counter"])
    assert m, lines
    assert 1 < int(m.group(1)) <= 100
    result.stdout.fnmatch_lines(["*= interlace =*", "interlace: 1 test, 100 executions in *s"])


def test_dpor_proves_a_correct_test_and_the_summary_says_so(inner):
    inner.makepyfile(test_racy=RACY)
    result = run(inner, "--interlace", "--interlace-strategy", "dpor", "-k", "locked")
    result.assert_outcomes(passed=1, deselected=1)
    line = summary_lines(result)["test_racy.py::test_locked_counter"]
    assert re.fullmatch(r"test_racy\.py::test_locked_counter: (\d+) executions, \1 distinct interleavings, "
                        r"[\d.]+s \(seed \d+\); all \1 interleaving classes explored \(DPOR\) \[ok\]", line), line


def test_a_test_that_never_runs_two_threads_at_once_runs_once(inner):
    inner.makepyfile(test_single="""
        import threading

        def test_sequential():
            out = []
            t = threading.Thread(target=out.append, args=(1,))
            t.run()  # not started: runs in this thread
            assert out == [1]
    """)
    result = run(inner, "--interlace")
    result.assert_outcomes(passed=1)
    line = summary_lines(result)["test_single.py::test_sequential"]
    assert ": 1 execution, 1 distinct interleaving," in line and "nothing to explore" in line


def test_exploration_options_and_same_seed_same_exploration(inner):
    inner.makepyfile(test_racy=RACY)
    first = run(inner, "--interlace", "-k", "locked", "--interlace-executions", "30",
                "--interlace-strategy", "random", "--interlace-seed", "5", "--interlace-model", "gil")
    first.assert_outcomes(passed=1, deselected=1)
    second = run(inner, "--interlace", "-k", "locked", "--interlace-executions", "30",
                 "--interlace-strategy", "random", "--interlace-seed", "5", "--interlace-model", "gil")
    line1 = summary_lines(first)["test_racy.py::test_locked_counter"]
    line2 = summary_lines(second)["test_racy.py::test_locked_counter"]
    assert ": 30 executions" in line1
    assert re.sub(r"[\d.]+s \(", "", line1) == re.sub(r"[\d.]+s \(", "", line2)


def test_x_stops_at_the_first_failure(inner):
    inner.makepyfile(test_racy=RACY.replace("def test_locked_counter", "def test_z_locked_counter"))
    result = run(inner, "--interlace", "-x")
    result.assert_outcomes(failed=1)
    assert list(summary_lines(result)) == ["test_racy.py::test_lost_update"]


# -- fixtures ----------------------------------------------------------------------------------------------


def test_function_fixtures_are_fresh_per_execution_and_broader_ones_set_up_once(inner):
    inner.makeconftest("""
        import pytest

        def log(line):
            with open("fixture-log.txt", "a") as f:
                f.write(line + "\\n")

        @pytest.fixture(scope="module")
        def service():
            log("module-setup")
            yield {"calls": 0}
            log("module-teardown")

        @pytest.fixture
        def account(service):
            log("setup")
            yield {"balance": 0}
            log("teardown")
    """)
    inner.makepyfile(test_fresh="""
        import threading

        def test_deposits(account, service):
            assert account == {"balance": 0}, "a fixture value left over from another execution"
            service["calls"] += 1
            lock = threading.Lock()

            def deposit():
                with lock:
                    account["balance"] += 10

            threads = [threading.Thread(target=deposit) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert account["balance"] == 20
    """)
    result = run(inner, "--interlace", "--interlace-executions", "25")
    result.assert_outcomes(passed=1)
    log = (inner.path / "fixture-log.txt").read_text().split()
    assert log.count("setup") == 25
    assert log.count("teardown") == 25
    assert log.count("module-setup") == 1 and log.count("module-teardown") == 1
    assert log[0] == "module-setup" and log[-1] == "module-teardown"
    assert log[1:-1] == ["setup", "teardown"] * 25


def test_a_pool_built_by_a_fixture_is_controlled_and_shut_down_every_execution(inner):
    inner.makepyfile(test_pool="""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        import pytest

        @pytest.fixture
        def pool():
            with ThreadPoolExecutor(max_workers=2) as pool:
                yield pool

        def test_racy_pool(pool):
            box = {"n": 0}

            def add():
                box["n"] += 1

            for f in [pool.submit(add) for _ in range(3)]:
                f.result()
            assert box["n"] == 3
    """)
    result = run(inner, "--interlace")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError in the main function: assert * == 3*"])
    assert "stuck" not in result.stdout.str()


def test_builtin_fixtures_and_fixture_errors(inner):
    inner.makepyfile(test_builtin="""
        import logging
        import threading
        import pytest

        def test_builtins(tmp_path, monkeypatch, capsys, caplog, request):
            monkeypatch.setenv("INTERLACE_PLUGIN_TEST", "1")
            caplog.set_level(logging.INFO)

            def work():
                (tmp_path / "f.txt").write_text("hi")
                logging.getLogger("t").info("hello from a thread")
                print("printed")

            t = threading.Thread(target=work)
            t.start()
            t.join()
            assert (tmp_path / "f.txt").read_text() == "hi"
            assert "printed" in capsys.readouterr().out
            assert "hello from a thread" in caplog.text
            assert caplog.messages == ["hello from a thread"]  # this execution's only
            assert [r.message for r in caplog.get_records("call")] == ["hello from a thread"]
            assert request.node.name == "test_builtins"

        @pytest.fixture
        def broken():
            raise RuntimeError("the fixture broke")

        def test_broken_fixture(broken):
            pass
    """)
    result = run(inner, "--interlace", "--interlace-executions", "20")
    result.assert_outcomes(passed=1, failed=1)
    assert ": 20 executions" in summary_lines(result)["test_builtin.py::test_builtins"]
    result.stdout.fnmatch_lines([
        "RuntimeError in the main function: the fixture broke",
        "*test_builtin.py*, line *, in broken",
    ])


# -- selection and activation -------------------------------------------------------------------------------


def test_lf_reruns_the_failing_test(inner):
    inner.makepyfile(test_racy=RACY)
    run(inner, "--interlace").assert_outcomes(failed=1, passed=1)
    again = run(inner, "--interlace", "--lf")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])
    assert list(summary_lines(again)) == ["test_racy.py::test_lost_update"]


def test_xdist_workers_explore_their_tests_with_the_same_seeds(inner):
    pytest.importorskip("xdist")
    inner.makepyfile(test_racy=RACY)
    inner.makepyfile(test_more="""
        import threading
        import pytest

        @pytest.mark.parametrize("n", [2, 3])
        def test_join_all(n):
            done = []
            threads = [threading.Thread(target=done.append, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(done) == list(range(n))
    """)
    plain = run(inner, "--interlace", "-p", "no:xdist")
    plain.assert_outcomes(failed=1, passed=3)
    result = run(inner, "--interlace", "-n", "2")
    result.assert_outcomes(failed=1, passed=3)
    assert "2 workers" in result.stdout.str()
    out = result.stdout.str()
    assert "interlace found a failure" in out and "Replay it: pytest 'test_racy.py::test_lost_update'" in out
    distributed, local = summary_lines(result), summary_lines(plain)
    assert set(distributed) == set(local) and len(local) == 4

    def seed(line: str) -> str:
        return re.search(r"\(seed (\d+)\)", line).group(1)

    for test, line in local.items():
        assert seed(distributed[test]) == seed(line), test
    # a failure found on a worker replays in a plain run
    run(inner, *replay_args(result, "test_racy.py::test_lost_update")).assert_outcomes(failed=1)


def test_inactive_unless_asked_and_disabled_by_p_no_interlace(inner):
    inner.makepyfile(test_racy=RACY)
    plain = run(inner)
    plain.assert_outcomes(passed=2)
    assert "interlace" not in plain.stdout.str().split("passed")[-1]
    assert not summary_lines(plain)
    disabled = run(inner, "-p", "no:interlace")
    disabled.assert_outcomes(passed=2)
    assert not summary_lines(disabled)
    assert "--interlace" not in run(inner, "-p", "no:interlace", "--help").stdout.str()
    assert "--interlace-replay" in run(inner, "--help").stdout.str()


def test_marker_opts_in_configures_and_skips(inner):
    inner.makepyfile(test_marked="""
        import threading
        import pytest

        def racy():
            state = {"n": 0}

            def work():
                state["n"] += 1

            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return state["n"]

        @pytest.mark.interlace(executions=40, strategy="random", seed=3, races="off")
        def test_opted_in():
            assert racy() in (1, 2)

        @pytest.mark.interlace(skip=True)
        def test_skipped_by_marker():
            assert racy() == 2

        @pytest.mark.thread_unsafe
        def test_thread_unsafe():
            assert racy() == 2

        def test_not_marked():
            assert racy() == 2
    """)
    result = run(inner, "--strict-markers")
    result.assert_outcomes(passed=4)
    lines = summary_lines(result)
    assert list(lines) == ["test_marked.py::test_opted_in"]
    assert ": 40 executions" in lines["test_marked.py::test_opted_in"]
    assert "(seed 3)" in lines["test_marked.py::test_opted_in"]
    with_flag = run(inner, "--interlace", "--strict-markers")
    with_flag.assert_outcomes(failed=1, passed=3)
    assert set(summary_lines(with_flag)) == {"test_marked.py::test_opted_in", "test_marked.py::test_not_marked"}


LOST_UPDATE = """
    import threading

    def {name}():
        box = {{"n": 0}}

        def worker():
            box["n"] = box["n"] + 1

        t = threading.Thread(target=worker)
        t.start()
        worker()
        t.join()
        assert box["n"] in (1, 2)
"""


def test_races_error_warn_off(inner):
    inner.makepyfile(test_race=LOST_UPDATE.format(name="test_unsynchronised_flag"))
    error = run(inner, "--interlace")
    error.assert_outcomes(failed=1)
    error.stdout.fnmatch_lines(["*data race(s) found*", "DATA RACE (lost update) on dict?'n'? *"])
    warn = run(inner, "--interlace", "--interlace-races=warn")
    warn.assert_outcomes(passed=1, warnings=1)
    warn.stdout.fnmatch_lines(["*warnings summary*", "*test_race.py:*: InterlaceRaceWarning: "
                               "test_race.py::test_unsynchronised_flag: DATA RACE (lost update) on dict?'n'?*"])
    assert "[races]" in summary_lines(warn)["test_race.py::test_unsynchronised_flag"]
    off = run(inner, "--interlace", "--interlace-races=off")
    off.assert_outcomes(passed=1)
    assert "InterlaceRaceWarning" not in off.stdout.str()


def test_a_benign_race_note_is_shown_but_never_made_an_error_by_the_suites_filters(inner):
    """janus's suite sets ``filterwarnings = error``: its notes failed 15 of its tests. A race that
    fails with races="warn" still follows the filters."""
    inner.makeini("""
        [pytest]
        filterwarnings = error
    """)
    inner.makepyfile(test_flag="""
        import threading

        def test_flag_written_once():
            box = {"done": False}

            def finish():
                box["done"] = True

            t = threading.Thread(target=finish)
            t.start()
            seen = box["done"]
            t.join()
            assert seen in (True, False)
    """)
    result = run(inner, "--interlace", "-p", "no:asyncio")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*InterlaceRaceWarning: test_flag.py::test_flag_written_once: NOTE: benign*"])
    inner.makepyfile(test_flag=LOST_UPDATE.format(name="test_lost_update"))
    warn = run(inner, "--interlace", "--interlace-races=warn", "-p", "no:asyncio")
    warn.assert_outcomes(failed=1)
    warn.stdout.fnmatch_lines(["*InterlaceRaceWarning: test_flag.py::test_lost_update: DATA RACE (lost update)*"])


def test_parametrised_class_and_unittest_tests(inner):
    inner.makepyfile(test_kinds="""
        import threading
        import unittest
        import pytest

        SETUPS = []

        def racy_count():
            state = {"n": 0}

            def work():
                state["n"] += 1

            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return state["n"]

        @pytest.mark.parametrize("workers", [2, 3])
        def test_param(workers):
            out = []
            threads = [threading.Thread(target=out.append, args=(i,)) for i in range(workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(out) == workers

        class TestAccount:
            def test_fresh_instance(self):
                assert not hasattr(self, "used"), "the test class instance is reused across executions"
                t = threading.Thread(target=setattr, args=(self, "used", True))
                t.start()
                t.join()
                assert self.used

            def test_racy_method(self):
                assert racy_count() == 2

        class TestCaseStyle(unittest.TestCase):
            def setUp(self):
                SETUPS.append(1)
                self.items = []

            def test_fresh_setup(self):
                self.assertEqual(self.items, [])
                t = threading.Thread(target=self.items.append, args=(1,))
                t.start()
                t.join()
                self.assertEqual(self.items, [1])

            def test_racy(self):
                self.assertEqual(racy_count(), 2)

            @unittest.skip("not today")
            def test_skipped(self):
                pass

        def test_zz_setups():
            # runs after the explored TestCase tests (and is explored itself: 1 + 10 executions)
            assert len(SETUPS) >= 10
    """)
    result = run(inner, "--interlace", "--interlace-executions", "10", "-p", "no:randomly")
    result.assert_outcomes(failed=2, passed=5, skipped=1)
    result.stdout.fnmatch_lines([
        "FAILED test_kinds.py::TestAccount::test_racy_method - interlace: *",
        "FAILED test_kinds.py::TestCaseStyle::test_racy - interlace: AssertionError in the main function: *",
    ])
    lines = summary_lines(result)
    assert "test_kinds.py::test_param[3]" in lines and "test_kinds.py::TestCaseStyle::test_fresh_setup" in lines
    assert ": 10 executions" in lines["test_kinds.py::TestCaseStyle::test_fresh_setup"]
    assert ": 10 executions" in lines["test_kinds.py::TestAccount::test_fresh_instance"]
    # the unittest failure replays too
    run(inner, *replay_args(result, "test_kinds.py::TestCaseStyle::test_racy")).assert_outcomes(failed=1)
    selected = run(inner, "--interlace", "--interlace-executions", "10", "-k", "TestAccount and fresh")
    selected.assert_outcomes(passed=1, deselected=7)


def test_replay_of_a_schedule_for_another_test_is_a_usage_error(inner):
    inner.makepyfile(test_racy=RACY)
    run(inner, "--interlace").assert_outcomes(failed=1, passed=1)
    wrong = run(inner, "test_racy.py::test_locked_counter",
                "--interlace-replay=.interlace/pytest/test_racy.py_test_lost_update.json")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    assert "the schedule is for 'test_racy.py::test_lost_update'" in wrong.stderr.str()
    # the whole file with the schedule: only the test it belongs to runs
    whole = run(inner, "test_racy.py", "--interlace-replay=.interlace/pytest/test_racy.py_test_lost_update.json")
    whole.assert_outcomes(failed=1, deselected=1)
    bad = run(inner, "--interlace", "--interlace-strategy", "dfs2", "-k", "locked")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    from interlace.strategies import STRATEGIES

    known = ", ".join(sorted(STRATEGIES))
    assert f"unknown strategy 'dfs2'; choose one of: {known}" in bad.stderr.str()
    missing = run(inner, "--interlace-replay=nowhere.json")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR


# -- the bundled example ----------------------------------------------------------------------------------


def test_bank_example_passes_plainly_fails_under_interlace_and_passes_when_fixed(inner, monkeypatch):
    for name in ("bank.py", "test_bank.py"):
        shutil.copy(ROOT / "examples" / "bank" / name, inner.path / name)
    plain = run(inner)
    plain.assert_outcomes(passed=3)
    explored = run(inner, "--interlace")
    explored.assert_outcomes(failed=2, passed=1)
    out = explored.stdout.str()
    assert "test_transfers_never_overdraw" in out and "test_balance_is_fresh_after_a_deposit" in out
    assert "bank.py:43" in out and "DATA RACE" in out
    replayed = run(inner, *replay_args(explored, "test_bank.py::test_balance_is_fresh_after_a_deposit"))
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines(["*AssertionError in the main function: assert 100 == 150*"])
    monkeypatch.setenv("BANK_FIXED", "1")
    fixed = run(inner, "--interlace")
    fixed.assert_outcomes(passed=3)
    lines = summary_lines(fixed)
    assert ": 100 executions" in lines["test_bank.py::test_transfers_never_overdraw"]
    assert ": 100 executions" in lines["test_bank.py::test_balance_is_fresh_after_a_deposit"]
    assert "nothing to explore" in lines["test_bank.py::test_single_transfer"]


def test_schedule_names_are_sanitised():
    from interlace.pytest_plugin.options import default_seed

    assert default_seed("a.py::t") == default_seed("a.py::t") != default_seed("a.py::u")
    assert default_seed("a.py::t", 1) != default_seed("a.py::t")

    class Config:
        rootpath = Path("/r")

    from interlace.pytest_plugin.schedules import schedule_path

    path = schedule_path(Config(), "tests/test_x.py::TestA::test_b[1-'a b'/c]")
    assert path == "/r/.interlace/pytest/tests_test_x.py_TestA_test_b_1-_a_b_c.json"
    long = schedule_path(Config(), "t.py::test_" + "x" * 300)
    assert len(os.path.basename(long)) < 130



def test_subtests_go_on_after_a_failure_and_fail_the_test(inner):
    """unittest's subTest and the subtests fixture keep their semantics under interlace: a failing
    subtest does not end the test (the later ones run), the test fails naming each failed subtest, and
    the interlace summary never says [ok] for it."""
    inner.makepyfile(test_sub="""
        import threading
        import unittest

        RAN = []

        def count():
            out = []
            t = threading.Thread(target=out.append, args=(1,))
            t.start()
            t.join()
            return len(out)

        class TestSub(unittest.TestCase):
            def test_sub(self):
                for i in range(3):
                    with self.subTest(i=i):
                        RAN.append(i)
                        self.assertNotEqual(i, 1)
                        self.assertEqual(count(), 1)

            def test_sub_pass(self):
                for i in range(2):
                    with self.subTest(i=i):
                        self.assertEqual(count(), 1)

        def test_fixture(subtests):
            for i in range(3):
                with subtests.test(msg="case", i=i):
                    assert i != 2 and count() == 1

        def test_zz_all_subtests_ran():
            assert RAN[:3] == [0, 1, 2]
    """)
    result = run(inner, "--interlace", "--interlace-executions", "3", "-p", "no:randomly")
    result.assert_outcomes(failed=2, passed=2)
    result.stdout.fnmatch_lines(["AssertionError in the main function: 1 subtest(s) failed:",
                                 "  (i=1): AssertionError: 1 == 1"])
    result.stdout.fnmatch_lines(["AssertionError in the main function: 1 subtest(s) failed:",
                                 "  [[]case[]] (i=2): AssertionError: assert (2 != 2*"])
    lines = summary_lines(result)
    assert lines["test_sub.py::TestSub::test_sub"].endswith("[FAILED]")
    assert lines["test_sub.py::test_fixture"].endswith("[FAILED]")
    assert lines["test_sub.py::TestSub::test_sub_pass"].endswith("[ok]")


def test_pytest_timeout_ends_the_exploration_at_once(inner):
    """pytest-timeout's signal comes while the main thread is blocked in C, out of interlace's sight:
    the execution is stopped (the blocked call interrupted), then the timeout fails the test."""
    inner.makepyfile(test_slow="""
        import select
        import threading
        import pytest

        @pytest.mark.timeout(2)
        def test_blocks():
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
            select.select([], [], [], 30)
    """)
    started = time.monotonic()
    result = run(inner, "--interlace", "--interlace-executions", "3", "--interlace-seed", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["Timeout (>2.0s) from pytest-timeout.", "",
                                 "interlace: SIGALRM came during execution 1 of at most 3 (strategy pct(depth=3), "
                                 "seed *), * scheduling points into it; 0 execution(s) before it ran without failure. "
                                 "Its handler ran once the execution running then had stopped (all its threads "
                                 "unwound)."])
    assert time.monotonic() - started < 25  # not the 30 s of the select (a loaded machine starts pytest slowly)


LONG_STRESS = """
    import threading
    import time
    import unittest

    import pytest

    class TestStress(unittest.TestCase):
        @pytest.mark.timeout(2)
        def test_stress(self):
            # readerwriterlock's shape: threads loop for long, each kind in a subTest, the main thread polls
            for kind in range(3):
                with self.subTest(kind):
                    lock = threading.Lock()
                    box = [0]

                    def work():
                        for _ in range(10**8):
                            with lock:
                                box[0] += 1

                    threads = [threading.Thread(target=work) for _ in range(3)]
                    for t in threads:
                        t.start()
                    while threads:
                        time.sleep(0.5)
                        threads = [t for t in threads if t.is_alive()]

    @pytest.mark.thread_unsafe
    def test_zz_next():
        assert threading.active_count() == 1  # no thread of the stopped execution is left
"""


def test_pytest_timeout_signal_stops_a_long_execution_and_the_next_test_runs(inner):
    """pytest-timeout's SIGALRM handler raised in the main thread while it was parked (another thread
    held the baton), so the main thread ran on next to it, and the subTest around it took the timeout
    for a subtest's failure: the test ran for hours. Now the handler waits until the running execution
    has stopped, then fails the test saying where the exploration was."""
    inner.makepyfile(test_long=LONG_STRESS)
    started = time.monotonic()
    result = inner.runpytest_subprocess("--interlace", "--interlace-executions", "5", "--interlace-seed", "1",
                                        timeout=60)
    assert time.monotonic() - started < 15
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["Timeout (>2.0s) from pytest-timeout.", "",
                                 "interlace: SIGALRM came during execution 1 of at most 5 (strategy pct(depth=3), "
                                 "seed *), * scheduling points into it; 0 execution(s) before it ran without failure. "
                                 "Its handler ran once the execution running then had stopped (all its threads "
                                 "unwound).",
                                 "*= interlace =*"])
    assert summary_lines(result)["test_long.py::TestStress::test_stress"].endswith("[FAILED]")
    result.stdout.fnmatch_lines(["FAILED test_long.py::TestStress::test_stress - Timeout (>2.0s) from "
                                 "pytest-timeout. (during*"])


def test_pytest_timeout_thread_method_ends_the_process_as_it_does_without_interlace(inner):
    """The "thread" method dumps the stacks and ends the process with os._exit(1) from its own
    thread, which interlace does not manage: that works as it does plainly."""
    inner.makepyfile(test_long=LONG_STRESS)
    started = time.monotonic()
    result = inner.runpytest_subprocess("--interlace", "--timeout-method=thread", "-k", "test_stress", timeout=60)
    assert time.monotonic() - started < 15
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*+ Timeout +*", "*Stack of *"])


def test_ctrl_c_stops_a_long_execution_and_says_where(inner):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) during one long execution: the
    exploration stops at once and pytest's interrupted line says where it was."""
    inner.makepyfile(test_long="""
        import threading
        import time

        def test_long():
            open("started", "w").close()
            box = [0]

            def work():
                for _ in range(10**8):
                    box[0] += 1

            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    """)
    child = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--interlace",
                              "--interlace-seed", "1", "test_long.py"],
                             cwd=inner.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not (inner.path / "started").exists():
            assert time.monotonic() < deadline and child.poll() is None, child.communicate()
            time.sleep(0.05)
        time.sleep(0.5)
        os.killpg(child.pid, signal.SIGINT)
        interrupted = time.monotonic()
        out, _ = child.communicate(timeout=60)
        assert time.monotonic() - interrupted < 10
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert child.returncode == pytest.ExitCode.INTERRUPTED, out
    assert re.search(r"ExplorationInterrupted: interlace: interrupted by the user \(Ctrl-C\) during execution 1 of "
                     r"at most 100 \(strategy pct\(depth=3\), seed \d+\), [\d,]+ scheduling points into it; 0 "
                     r"execution\(s\) before it ran without failure", out), out


# -- workers -------------------------------------------------------------------------------------------

INTERMEDIATE = """
    import threading

    import pytest

    @pytest.fixture
    def box():
        return {"a": 0, "b": 0}

    def test_intermediate(box):
        lock = threading.Lock()

        def writer():
            for _ in range(20):
                with lock:
                    box["a"] += 1
            with lock:
                box["b"] = 1
            with lock:
                box["b"] = 0

        def reader():
            for _ in range(20):
                with lock:
                    b = box["b"]
                assert b == 0, "saw the intermediate state"

        threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
"""


# the default strategy's executions shared out, dfs's tree split between the workers, dpor's run ahead
@pytest.mark.parametrize(("strategy", "found"), [((), 67), (("--interlace-strategy", "dfs"), 94),
                                                 (("--interlace-strategy", "dpor"), 2)],
                         ids=["default", "dfs", "dpor"])
def test_interlace_workers_run_the_test_by_its_id_and_report_the_failure_of_one_worker(inner, strategy, found):
    inner.makepyfile(test_state=INTERMEDIATE)
    args = ("--interlace", "--interlace-seed", "5", "--interlace-executions", "300", *strategy)
    one = run(inner, *args)
    two = run(inner, *args, "--interlace-workers", "2")
    one.assert_outcomes(failed=1)
    two.assert_outcomes(failed=1)

    def report(result):  # the failure's report (trace, shrinking, replay command), without its timings
        lines = result.outlines
        first = next(i for i, line in enumerate(lines) if "interlace found a failure" in line)
        last = next(i for i, line in enumerate(lines) if line.startswith("Replay it: "))
        return re.sub(r"\d+\.\d+s", "", "\n".join(lines[first:last + 1]))

    assert f"interlace found a failure after {found} execution(s)" in report(one)
    assert "saw the intermediate state" in report(one)
    assert report(two) == report(one)
    line = summary_lines(two)["test_state.py::test_intermediate"]
    assert re.fullmatch(rf"test_state\.py::test_intermediate: {found} executions, [\d.]+s \(seed \d+\) \[FAILED\]",
                        line)


def test_interlace_workers_refuses_a_bad_count(inner):
    inner.makepyfile(test_state=INTERMEDIATE)
    result = run(inner, "--interlace", "--interlace-workers", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--interlace-workers: a number of worker processes (at least 1) or 'auto', not '0'"])


def test_hang_guard_option_and_marker(inner):
    inner.makepyfile(test_guarded="""
        import threading

        import pytest

        def handshake():
            started = threading.Event()
            t = threading.Thread(target=started.set)
            t.start()
            assert started.wait(10), "the worker did not start"
            t.join(timeout=10)
            assert not t.is_alive()

        def test_default():
            handshake()

        @pytest.mark.interlace(hang_guard=None)
        def test_every_timeout_early():
            handshake()
    """)
    result = run(inner, "--interlace", "--interlace-executions", "30", "--strict-markers")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: the worker did not start*"])
    assert "FAILED test_guarded.py::test_every_timeout_early" in result.stdout.str()
    none = run(inner, "--interlace", "--interlace-executions", "30", "--interlace-hang-guard", "none")
    none.assert_outcomes(failed=2)
    bad = run(inner, "--interlace", "--interlace-hang-guard", "soon")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--interlace-hang-guard: takes a number of seconds (at least 0) or 'none', not 'soon'"])


def test_step_budget_option_and_marker(inner):
    """A test stops being explored before a next execution once its executions took the step budget;
    the summary says so. Counted, so it stops at the same execution on every machine."""
    inner.makepyfile(test_budget="""
        import threading

        import pytest

        def locked_counter():
            box = {"n": 0}
            lock = threading.Lock()

            def work():
                for _ in range(3):
                    with lock:
                        box["n"] += 1

            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert box["n"] == 6

        def test_default():
            locked_counter()

        @pytest.mark.interlace(step_budget=1)
        def test_one_step():
            locked_counter()
    """)
    result = run(inner, "--interlace", "--interlace-executions", "5", "--strict-markers")
    result.assert_outcomes(passed=2)
    lines = summary_lines(result)
    assert lines["test_budget.py::test_default"].startswith("test_budget.py::test_default: 5 executions, ")
    assert lines["test_budget.py::test_one_step"].startswith("test_budget.py::test_one_step: 1 execution, ")
    cut = [line for line in result.outlines if "cut short" in line]
    assert len(cut) == 1 and re.fullmatch(
        r"    exploration cut short by the step budget: 1 execution took \d+ scheduling steps "
        r"\(--interlace-step-budget 1\)", cut[0]), cut
    both = run(inner, "--interlace", "--interlace-executions", "5", "--interlace-step-budget", "1")
    both_cut = [line for line in both.outlines if "cut short" in line]
    assert len(both_cut) == 2 and cut[0] in both_cut  # the same test stops at the same step count again
    assert summary_lines(both)["test_budget.py::test_default"].startswith("test_budget.py::test_default: 1 execution, ")
    bad = run(inner, "--interlace", "--interlace-step-budget", "lots")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--interlace-step-budget: a number of scheduling steps (at least 1) or 'none', "
                              "not 'lots'"])
