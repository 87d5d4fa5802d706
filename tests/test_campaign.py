"""interlace campaign: targets explored in turn, a summary table, failures saved with their replay
command, and a state file from which an interrupted campaign resumes."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(180)

HERE = os.path.dirname(__file__)


def _cli(cwd, *args):
    return subprocess.run([sys.executable, "-m", "interlace", *args], capture_output=True, text=True, timeout=150,
                          cwd=cwd)


@pytest.fixture
def project(tmp_path):
    for name in ("workers_programs.py", "workers_script.py"):
        shutil.copy(os.path.join(HERE, name), tmp_path / name)
    (tmp_path / "fails.py").write_text("import sys\nsys.argv.append('x')\nimport workers_script\n")
    (tmp_path / "passes.py").write_text("from workers_programs import locked_counter\nlocked_counter()\n")
    (tmp_path / "test_small.py").write_text("def test_nothing_threaded():\n    assert 1 + 1 == 2\n")
    return tmp_path


def _rows(stdout):
    return [line.split()[:3] for line in stdout.splitlines()[2:] if re.match(r"^\S+.*\d\.\ds$", line)]


def test_a_campaign_summarises_saves_failures_with_their_replay_command_and_resumes(project):
    first = _cli(project, "campaign", "fails.py", "-n", "300", "--seed", "1", "--workers", "2")
    assert first.returncode == 1, first.stderr
    assert first.stderr == "interlace: fails.py: exploring...\n"
    assert _rows(first.stdout) == [["fails.py", "FAILED", "47"]]
    replay = re.search(r"^  replay: (interlace replay (\S+))$", first.stdout, re.M)
    assert replay and os.path.exists(project / replay.group(2))
    assert "fails.py: AssertionError in thread 'Thread-2 (reader)': saw the intermediate state" in first.stdout
    replayed = _cli(project, "replay", replay.group(2))
    assert replayed.returncode == 1  # the saved schedule reproduces the failure

    # the same campaign with more targets (as if interrupted after the first): the first is not run again
    second = _cli(project, "campaign", "fails.py", "passes.py", "pytest:test_small.py", "-n", "300", "--seed", "1",
                  "--workers", "2")
    assert second.returncode == 1, second.stderr
    assert second.stderr.splitlines() == ["interlace: fails.py: done in an earlier run (FAILED), skipped",
                                          "interlace: passes.py: exploring...",
                                          "interlace: pytest:test_small.py: exploring..."]
    assert _rows(second.stdout) == [["fails.py", "FAILED", "47"], ["passes.py", "ok", "300"],
                                    ["pytest:test_small.py", "ok", "1"]]
    state = json.loads((project / ".interlace" / "campaign" / "state.json").read_text())
    assert [row["target"] for row in state["rows"]] == ["fails.py", "passes.py", "pytest:test_small.py"]


def test_a_state_file_of_other_options_is_refused(project):
    assert _cli(project, "campaign", "passes.py", "-n", "20").returncode == 0
    done = _cli(project, "campaign", "passes.py", "-n", "30")
    assert done.returncode == 2
    assert done.stderr.startswith("interlace: .interlace/campaign/state.json is the state of a campaign with other "
                                  "options")


def test_a_missing_target_is_a_usage_error(project):
    done = _cli(project, "campaign", "nowhere.py")
    assert done.returncode == 2
    assert done.stderr.startswith("interlace: campaign target 'nowhere.py' is neither a script nor a pytest "
                                  "selection (pytest:SELECTION)")
