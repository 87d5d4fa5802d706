"""The article's counter, end to end: explore finds the lost update, replay reproduces it exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import interlace
from interlace.drivers.script import ScriptRunner
from interlace.schedule import Schedule

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTER = os.path.join(ROOT, "examples", "counter.py")
COUNTER_LOCKED = os.path.join(ROOT, "examples", "counter_locked.py")

pytestmark = pytest.mark.timeout(300)


def cli(*args, cwd=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "interlace", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_lost_update_found_within_20_executions_for_seeds_0_to_9(strategy):
    runner = ScriptRunner(COUNTER, [])
    for seed in range(10):
        result = interlace.explore(runner, executions=20, strategy=strategy, seed=seed)
        assert not result.ok, f"seed {seed}: no failure in 20 executions"
        assert result.failure.kind == "exception"
        assert result.failure.message.startswith("AssertionError in the main function: lost update: counter is")


def test_same_seed_explores_the_same_executions():
    runner = ScriptRunner(COUNTER, [])
    a = interlace.explore(runner, executions=50, strategy="random", seed=4)
    b = interlace.explore(runner, executions=50, strategy="random", seed=4)
    assert (a.executions, a.schedule.choices, a.failure.message) == (
        b.executions, b.schedule.choices, b.failure.message)
    assert [(e.tid, e.kind, e.what) for e in a.trace] == [(e.tid, e.kind, e.what) for e in b.trace]


def test_replay_reproduces_the_same_final_value_100_times():
    runner = ScriptRunner(COUNTER, [])
    result = interlace.explore(runner, executions=100, seed=2)
    assert not result.ok
    expected_output = runner.output
    assert expected_output.startswith("Final counter: ")
    for _ in range(100):
        again = interlace.replay(runner, result.schedule)
        assert again.divergence is None
        assert again.failure.message == result.failure.message
        assert runner.output == expected_output


def test_locked_counter_passes_10000_executions():
    result = interlace.explore(ScriptRunner(COUNTER_LOCKED, []), executions=10_000, seed=0)
    assert result.ok, result.report()
    assert result.executions == 10_000 or result.exhausted  # or the default's DPOR ran every class


def test_cli_explore_saves_schedule_and_replay_reproduces(tmp_path):
    out = cli("explore", COUNTER, "--seed", "3", "-n", "50", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "Output of the failing execution:\n  | Final counter: " in out.stdout
    assert "AssertionError in the main function: lost update: counter is" in out.stdout
    assert "read counter" in out.stdout and "write counter" in out.stdout
    replay_line = [line for line in out.stdout.splitlines() if line.startswith("Replay it: ")][0]
    path = replay_line.split()[-1]
    assert path.startswith(os.path.join(".interlace", "schedules", "counter-seed3-exec"))
    doc = json.loads((tmp_path / path).read_text())
    assert doc["format"] == "interlace-schedule" and doc["seed"] == 3
    assert doc["target"]["script"] == COUNTER

    final = [line for line in out.stdout.splitlines() if "Final counter:" in line][0].split("|")[1].strip()
    for _ in range(3):
        rep = cli("replay", path, cwd=tmp_path)
        assert rep.returncode == 1, rep.stderr
        assert rep.stdout.strip() == final
        assert "AssertionError in the main function: lost update" in rep.stderr


def test_cli_output_into_a_closed_pipe_exits_141_without_a_traceback(tmp_path):
    """``interlace explore ... | head -1``: the reader goes away; the schedule is still saved."""
    proc = subprocess.Popen([sys.executable, "-m", "interlace", "explore", COUNTER, "--seed", "3", "-n", "50"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before interlace writes anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
    assert len(list((tmp_path / ".interlace" / "schedules").glob("counter-seed3-exec*.json"))) == 2


def test_cli_explore_locked_counter_exits_0(tmp_path):
    out = cli("explore", COUNTER_LOCKED, "-n", "200", "--seed", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("interlace: no failure in 60 executions (strategy portfolio(dpor, pct(depth=3), "
                                 "pct(depth=2, at acquires), pos, pct(depth=3, newest first)), seed 1")
    assert "\nall 20 interleaving classes explored (DPOR), no failure\n" in out.stdout  # a proof
    assert not (tmp_path / ".interlace").exists()


def test_cli_max_preemptions_bounds_dfs_and_says_what_was_covered(tmp_path):
    lines = []
    for bound in ("0", "1"):
        out = cli("explore", COUNTER_LOCKED, "--strategy", "dfs", "--max-preemptions", bound, "-n", "100000",
                  "--seed", "1", cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        lines.append(out.stdout.splitlines()[-1])
    assert lines == ["the only schedule with at most 0 preemption(s) explored (DFS), no failure",
                     "all 67 schedules with at most 1 preemption(s) explored (DFS), no failure"]
    assert interlace.explore(ScriptRunner(COUNTER_LOCKED, []), strategy="dfs", max_preemptions=1,
                             executions=100_000).executions == 67


def test_cli_max_preemptions_without_dfs_is_a_usage_error(tmp_path):
    out = cli("explore", COUNTER_LOCKED, "--max-preemptions", "1", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr == ("interlace: --max-preemptions bounds the dfs strategy; it does nothing with --strategy "
                          "portfolio. Add --strategy dfs, or leave --max-preemptions out.\n")
    out = cli("explore", COUNTER_LOCKED, "--strategy", "dfs", "--max-preemptions", "-1", cwd=tmp_path)
    assert (out.returncode, out.stderr) == (2, "interlace: --max-preemptions must be at least 0.\n")
    with pytest.raises(ValueError, match="max_preemptions bounds the dfs strategy, not 'portfolio'"):
        interlace.explore(ScriptRunner(COUNTER_LOCKED, []), max_preemptions=1)


def test_cli_options_after_script_and_script_arguments(tmp_path):
    script = tmp_path / "args.py"
    script.write_text("import sys\nassert sys.argv[1:] == ['--seed', 'x'], sys.argv\n")
    out = cli("explore", str(script), "-n", "3", "--", "--seed", "x", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no failure in 3 executions" in out.stdout


def test_cli_missing_script_is_a_usage_error(tmp_path):
    out = cli("explore", "nope.py", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("interlace: there is no script at 'nope.py'.")
    assert "Traceback" not in out.stderr


def test_cli_syntax_error_is_a_usage_error(tmp_path):
    (tmp_path / "bad.py").write_text("def f(:\n")
    out = cli("explore", "bad.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "bad.py is not valid Python for this interpreter" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not an interlace schedule: it is not valid JSON"),
    ('{"hello": 1}', "is not an interlace schedule (no \"format\""),
    ('{"format": "interlace-schedule", "version": 99, "choices": []}', "uses schedule format version 99"),
    ('{"format": "interlace-schedule", "version": 1, "choices": ["a"]}', "is damaged: \"choices\""),
    ("", "is not valid JSON"),
])
def test_cli_replay_bad_schedule_files(tmp_path, content, message):
    (tmp_path / "s.json").write_text(content)
    out = cli("replay", "s.json", cwd=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_replay_missing_file(tmp_path):
    out = cli("replay", "missing.json", cwd=tmp_path)
    assert out.returncode == 2
    assert "no schedule file at 'missing.json'" in out.stderr


def test_cli_replay_divergence_exits_3(tmp_path):
    script = tmp_path / "prog.py"
    script.write_text(open(COUNTER).read())
    out = cli("explore", str(script), "--seed", "1", "-n", "50", "-o", "s.json", cwd=tmp_path)
    assert out.returncode == 1
    schedule = Schedule.load(str(tmp_path / "s.json"))
    schedule.choices = [7] + schedule.choices  # a thread that never exists at the first decision
    (tmp_path / "s.json").write_text(schedule.to_json())
    rep = cli("replay", "s.json", cwd=tmp_path)
    assert rep.returncode == 3, rep.stdout + rep.stderr
    assert "diverged from the schedule at decision 1: the schedule runs thread #7" in rep.stderr


def test_python_api_replay_from_json_and_choice_list():
    runner = ScriptRunner(COUNTER, [])
    result = interlace.explore(runner, executions=50, seed=5)
    text = result.schedule.to_json()
    assert interlace.replay(runner, text).failure.message == result.failure.message
    assert interlace.replay(runner, list(result.schedule.choices)).failure.message == result.failure.message
    with pytest.raises(interlace.InterlaceFailure) as info:
        result.raise_on_failure()
    assert "lost update" in str(info.value) and "Interleaving" in str(info.value)


RACE_PACKAGE = {
    "racepkg/__init__.py": "",
    "racepkg/counter.py": "counter = 0\n\ndef bump():\n    global counter\n    counter = counter + 1\n",
    "racepkg/__main__.py": (
        "import sys, threading\nfrom . import counter\n"
        "ts = [threading.Thread(target=counter.bump) for _ in range(2)]\n"
        "for t in ts:\n    t.start()\nfor t in ts:\n    t.join()\n"
        "print('args', sys.argv[1:], 'counter', counter.counter)\n"
        "assert counter.counter == 2, 'lost update'\n"),
}


def test_cli_explore_a_module_like_python_dash_m_and_replay_it(tmp_path):
    for name, text in RACE_PACKAGE.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    out = cli("explore", "-m", "racepkg", "x", "--flag", "--seed", "1", "-n", "50", "--races", "off",
              "-o", "s.json", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    # each execution imports the program's own modules anew: the counter starts at 0 every time
    assert "Output of the failing execution:\n  | args ['x', '--flag'] counter 1\n" in out.stdout
    doc = json.loads((tmp_path / "s.json").read_text())
    assert (doc["target"]["module"], doc["target"]["package"], doc["target"]["argv"]) == (
        "racepkg", "racepkg", ["x", "--flag"])
    for _ in range(2):
        rep = cli("replay", "s.json", cwd=tmp_path)
        assert rep.returncode == 1 and rep.stdout == "args ['x', '--flag'] counter 1\n", rep.stderr
    missing = cli("explore", "-m", "nope", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (2, "interlace: there is no module named 'nope' (on this "
                                                       "sys.path).\n")
    nothing = cli("explore", cwd=tmp_path)
    assert (nothing.returncode, nothing.stderr) == (2, "interlace: explore needs a SCRIPT (or -m MODULE) to run.\n")


def test_a_script_s_own_modules_start_fresh_in_every_execution(tmp_path):
    (tmp_path / "state.py").write_text("seen = []\n")
    script = tmp_path / "main.py"
    script.write_text("import state\nstate.seen.append(1)\nassert state.seen == [1], state.seen\n")
    result = interlace.explore(ScriptRunner(str(script), []), executions=20, seed=0)
    assert result.ok and (result.executions == 20 or result.exhausted), result.report()
