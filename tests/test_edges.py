"""The command line at its edges (issue 13): threads stuck in C, Ctrl-C, os._exit, files interlace must
not write, bad input files, secrets in recordings, exit codes. Every command runs in a child process
with a hard timeout, so a regression fails instead of hanging."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
from run_seeds import pinned

from interlace.cli import EXIT_CODES

_SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
_ENV = dict(os.environ, PYTHONPATH=_SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def interlace(tmp_path, *args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "interlace", *pinned(args)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=timeout, env=env or _ENV)


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def interrupted_when(tmp_path, marker, *args, command=("-m", "interlace")):
    """Start ``interlace ARGS``, wait until the program created ``marker``, send Ctrl-C (SIGINT to the
    process group, as a terminal does) and return the finished process and its outputs."""
    child = subprocess.Popen([sys.executable, *command, *pinned(args)], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_ENV, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / marker).exists():
            assert time.monotonic() < deadline and child.poll() is None, child.communicate()
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(child.pid, signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return child.returncode, out, err


# -- threads blocked forever in C ------------------------------------------------------------------------

STUCK_IN_C = """
    import select
    import threading

    t = threading.Thread(target=lambda: select.poll().poll(), name="poller")
    t.start()
    t.join()
"""


@pytest.mark.parametrize("command", ["explore", "run"])
def test_a_thread_blocked_forever_in_c_is_reported_and_the_process_ends(tmp_path, command):
    write(tmp_path, "stuck.py", STUCK_IN_C)
    started = time.monotonic()
    done = interlace(tmp_path, command, "stuck.py", "--stuck-timeout", "1", timeout=60)
    assert done.returncode == 1
    report = done.stdout + done.stderr
    assert ("thread 'poller' is stuck outside interlace's control: it has not reached a scheduling point for "
            "1s, blocked") in report
    assert "select.poll().poll()" in report
    assert time.monotonic() - started < 30


def test_a_thread_waiting_for_a_socket_nobody_writes_to_is_stuck_and_unwinds(tmp_path):
    write(tmp_path, "recv.py", """
        import socket
        import threading

        left, right = socket.socketpair()
        t = threading.Thread(target=lambda: left.recv(16), name="reader")
        t.start()
        t.join()
    """)
    done = interlace(tmp_path, "explore", "recv.py", "--stuck-timeout", "1", "-n", "3")
    assert done.returncode == 1
    assert "thread 'reader' is stuck outside interlace's control" in done.stdout
    assert "left.recv(16)" in done.stdout


# -- Ctrl-C ---------------------------------------------------------------------------------------------

LONG = """
    import threading

    open("started", "w").close()
    box = {"n": 0}
    lock = threading.Lock()

    def work():
        for _ in range(%d):
            with lock:
                box["n"] += 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""


@pytest.mark.timeout(120)
def test_ctrl_c_during_explore_exits_130_with_no_failure(tmp_path):
    write(tmp_path, "long.py", LONG % 20)
    code, out, err = interrupted_when(tmp_path, "started", "explore", "long.py", "-n", "1000000", "--seed", "1",
                                      "--strategy", "pct")  # a randomized strategy: no proof ends it first
    assert code == 130, err
    assert err.startswith("interlace: interrupted after "), err
    assert err.rstrip().endswith("execution(s), no failure so far (strategy pct(depth=3), seed 1).")
    assert "KeyboardInterrupt" not in out + err
    assert not (tmp_path / ".interlace" / "schedules").exists()


@pytest.mark.timeout(120)
def test_ctrl_c_during_run_keeps_a_recording_that_replays_to_that_point(tmp_path):
    write(tmp_path, "long.py", LONG % 10**7)
    code, out, err = interrupted_when(tmp_path, "started", "run", "long.py", "--record", "long.ilr")
    assert code == 130, err
    assert "interlace: the run was interrupted (Ctrl-C) after " in err
    assert "recorded to long.ilr; it replays up to that point: interlace replay long.ilr" in err
    replayed = interlace(tmp_path, "replay", "long.ilr")
    assert replayed.returncode == 0, replayed.stderr
    assert "(the recorded run was interrupted there); the replay stops at the same point" in replayed.stderr


@pytest.mark.timeout(120)
def test_ctrl_c_during_run_raises_keyboard_interrupt_in_the_busy_main_thread(tmp_path):
    write(tmp_path, "busy.py", """
        import threading

        box = {"n": 0}
        lock = threading.Lock()
        stop = []

        def work():
            while not stop:
                with lock:
                    box["n"] += 1

        t = threading.Thread(target=work)
        t.start()
        open("started", "w").close()
        try:
            while True:
                with lock:
                    box["n"] += 1
        except KeyboardInterrupt:
            stop.append(1)
            t.join()
            print("main got KeyboardInterrupt")
            raise
    """)
    code, out, err = interrupted_when(tmp_path, "started", "run", "busy.py", "--record", "busy.ilr",
                                      "--max-steps", "100000000")
    assert code == 130, err
    assert out == "main got KeyboardInterrupt\n"
    assert err.startswith("Traceback (most recent call last):\n") and "\nKeyboardInterrupt\n" in err
    assert "interlace: the run was interrupted (Ctrl-C) after " in err
    replayed = interlace(tmp_path, "replay", "busy.ilr")
    assert replayed.returncode == 0, replayed.stderr
    assert "(the recorded run was interrupted there); the replay stops at the same point" in replayed.stderr


@pytest.mark.timeout(120)
def test_ctrl_c_during_the_api_raises_exploration_interrupted(tmp_path):
    write(tmp_path, "api.py", """
        import threading

        import interlace

        def program():
            open("started", "w").close()
            box = []
            threads = [threading.Thread(target=box.append, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        try:
            interlace.explore(program, executions=10**7, seed=1, strategy="pct")  # no proof ends it first
        except interlace.ExplorationInterrupted as exc:
            result = exc.result
            print("interrupted", result.interrupted, result.failure is None, result.executions > 0)
    """)
    code, out, err = interrupted_when(tmp_path, "started", command=("api.py",))
    assert (code, out) == (0, "interrupted True True True\n"), err


@pytest.mark.timeout(120)
def test_ctrl_c_during_one_long_explored_execution_stops_it_at_once(tmp_path):
    write(tmp_path, "long.py", LONG % 10**8)
    started = time.monotonic()
    code, out, err = interrupted_when(tmp_path, "started", "explore", "long.py", "-n", "3", "--seed", "1",
                                      "--strategy", "pct")
    assert code == 130, err
    assert err == "interlace: interrupted after 0 execution(s), no failure so far (strategy pct(depth=3), seed 1).\n"
    assert time.monotonic() - started < 20


@pytest.mark.timeout(120)
def test_a_raising_alarm_handler_runs_once_the_explored_execution_stopped(tmp_path):
    """A SIGALRM handler that raises (pytest-timeout's "signal" method, here the program's own) would
    run in the main thread wherever it is, parked next to the thread that holds the baton: it runs when
    the execution has stopped, and its exception says where the exploration was."""
    write(tmp_path, "alarm.py", """
        import re
        import signal
        import threading

        import interlace

        def on_alarm(signum, frame):
            raise TimeoutError("alarm")

        def program():
            box = [0]

            def work():
                for _ in range(10**8):
                    box[0] += 1

            threads = [threading.Thread(target=work) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 1)
        try:
            interlace.explore(program, executions=5, seed=1, strategy="pct")
        except TimeoutError as exc:
            print(exc, re.sub(r"[0-9,]+ scheduling", "N scheduling", exc.__notes__[0]))
        print(threading.active_count(), signal.getsignal(signal.SIGALRM) is on_alarm)
    """)
    done = subprocess.run([sys.executable, "alarm.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=_ENV)
    assert done.stdout == ("alarm interlace: SIGALRM came during execution 1 of at most 5 (strategy pct(depth=3), "
                           "seed 1), N scheduling points into it; 0 execution(s) before it ran without failure. Its "
                           "handler ran once the execution running then had stopped (all its threads unwound).\n"
                           "1 True\n"), done.stderr


# -- os._exit in a thread -------------------------------------------------------------------------------

EXIT_IN_THREAD = """
    import os
    import threading

    def work():
        os._exit(7)

    t = threading.Thread(target=work, name="quitter")
    t.start()
    t.join()
"""


def test_os_exit_in_a_thread_is_a_failure_of_the_exploration(tmp_path):
    write(tmp_path, "quit.py", EXIT_IN_THREAD)
    done = interlace(tmp_path, "explore", "quit.py", "-n", "5", "-o", "quit.json")
    assert done.returncode == 1, done.stderr
    assert ("os._exit(7) in thread 'quitter' at quit.py:6: the process would end here with exit status 7"
            in done.stdout)
    again = interlace(tmp_path, "replay", "quit.json")
    assert again.returncode == 1
    assert "os._exit(7) in thread 'quitter' at quit.py:6" in again.stderr


@pytest.mark.parametrize("seed", [1, 2])  # seed 1: os._exit comes inside a granted quantum (its stays recorded)
def test_os_exit_in_a_thread_ends_a_run_with_its_status_and_a_recording(tmp_path, seed):
    write(tmp_path, "quit.py", EXIT_IN_THREAD)
    done = interlace(tmp_path, "run", "quit.py", "--record", "quit.ilr", "--seed", str(seed))
    assert done.returncode == 7
    assert done.stderr.startswith("interlace: the run ended with os._exit(7) in thread 'quitter' at quit.py:6; "
                                  "recorded ")
    again = interlace(tmp_path, "replay", "quit.ilr")
    assert again.returncode == 7, again.stderr
    assert again.stderr.endswith("interlace: the replay reached os._exit(7) in thread 'quitter' at quit.py:6, as "
                                 "the recorded run did.\n")


# -- files interlace must not write -----------------------------------------------------------------------

RACY = """
    import threading

    class Counter:
        value = 0

    counter = Counter()

    def work():
        counter.value = counter.value + 1

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""


@pytest.mark.parametrize("option", ["-o", "--html"])
def test_explore_never_overwrites_a_file_it_did_not_write(tmp_path, option):
    prog = write(tmp_path, "prog.py", RACY)
    before = prog.read_text()
    done = interlace(tmp_path, "explore", "prog.py", option, "prog.py")
    assert done.returncode == 2
    assert done.stderr == (f"interlace: {option} 'prog.py' exists and was not written by interlace; interlace never "
                           "overwrites a file it did not write. Choose another path, or delete the file first.\n")
    assert prog.read_text() == before


@pytest.mark.parametrize(("args", "message"), [
    (["explore", "prog.py", "-o", "/no/such/dir/x.json"],
     "interlace: -o '/no/such/dir/x.json': the directory '/no/such/dir' does not exist; interlace creates missing "
     "directories only under the current one. Create it first, or choose another path.\n"),
    (["explore", "prog.py", "--html", "/proc/x.html"],
     "interlace: --html '/proc/x.html' cannot be written (No such file or directory). Choose another path.\n"),
    (["run", "prog.py", "--record", "/proc/x.ilr"],
     "interlace: --record '/proc/x.ilr' cannot be written (No such file or directory). Choose another path.\n"),
    (["explore", "prog.py", "-o", "."],
     "interlace: -o '.' is a directory; give a file name (e.g. ./out.json).\n"),
])
def test_output_paths_are_checked_before_anything_runs(tmp_path, args, message):
    write(tmp_path, "prog.py", "open('ran', 'w').close()\n")
    done = interlace(tmp_path, *args)
    assert (done.returncode, done.stderr) == (2, message)
    assert not (tmp_path / "ran").exists()
    assert not os.path.exists("/no")


def test_explore_of_a_directory_says_so(tmp_path):
    (tmp_path / "pkg").mkdir()
    done = interlace(tmp_path, "explore", "pkg")
    assert (done.returncode, done.stderr) == (2, (
        "interlace: 'pkg' is a directory, not a script. Pass the script to run, or -m PACKAGE to run a package's "
        "__main__.py (from the directory that contains the package).\n"))


def test_run_dash_m_from_the_console_script_finds_the_package_in_the_current_directory(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "interlace")
    if not os.path.exists(script):
        pytest.skip("no interlace console script next to this interpreter")
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "__main__.py").write_text("import sys\nprint('hello from', __package__, sys.argv[1:])\n")
    done = subprocess.run([script, "run", "-m", "mypkg", "a"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from mypkg ['a']\n"


# -- recordings: private, secrets redacted ----------------------------------------------------------------


def test_recordings_are_private_and_keep_secrets_as_salted_hashes(tmp_path):
    write(tmp_path, "env.py", """
        import os
        import threading

        def work():
            print(len(os.environ["AWS_SECRET_ACCESS_KEY"]), os.environ["MY_SETTING"])

        t = threading.Thread(target=work)
        t.start()
        t.join()
    """)
    env = dict(_ENV, AWS_SECRET_ACCESS_KEY="hunter2-very-secret", MY_SETTING="plain")
    done = interlace(tmp_path, "run", "env.py", "--record", "env.ilr", "--keep", "all", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "19 plain\n"
    assert stat.S_IMODE(os.stat(tmp_path / "env.ilr").st_mode) == 0o600
    from interlace.recording import load

    inputs = {kind: value for _, kind, value in load(str(tmp_path / "env.ilr")).inputs if kind == "environ"}
    assert "hunter2" not in repr(load(str(tmp_path / "env.ilr")).inputs)
    assert "plain" in repr(inputs)
    shown = interlace(tmp_path, "show", "env.ilr")
    assert ("redacted   1 secret-looking environment variable(s), kept as salted hashes (interlace run "
            "--record-secrets keeps them): AWS_SECRET_ACCESS_KEY\n") in shown.stdout
    same = interlace(tmp_path, "replay", "env.ilr", env=env)
    assert same.returncode == 0, same.stderr
    other = interlace(tmp_path, "replay", "env.ilr", env=dict(env, AWS_SECRET_ACCESS_KEY="another"))
    assert other.returncode == 3
    assert ("environment variable 'AWS_SECRET_ACCESS_KEY' looks secret, so the recording keeps only a salted hash "
            "of its value, and its value here differs: set it as it was when recording (or record with "
            "--record-secrets)") in other.stderr


def test_record_secrets_keeps_them_in_clear(tmp_path):
    write(tmp_path, "env.py", "import os\nprint(os.environ['API_TOKEN'])\n")
    env = dict(_ENV, API_TOKEN="tok-123")
    done = interlace(tmp_path, "run", "env.py", "--record", "env.ilr", "--keep", "all", "--record-secrets", env=env)
    assert done.returncode == 0, done.stderr
    from interlace.recording import load

    assert "tok-123" in repr(load(str(tmp_path / "env.ilr")).inputs)
    assert "secrets    recorded in clear (--record-secrets)\n" in interlace(tmp_path, "show", "env.ilr").stdout


# -- schedules, reports and bad input files ---------------------------------------------------------------


def test_a_schedule_says_when_its_script_changed(tmp_path):
    prog = write(tmp_path, "prog.py", RACY)
    assert interlace(tmp_path, "explore", "prog.py", "-o", "s.json", "--seed", "1").returncode == 1
    assert json.loads((tmp_path / "s.json").read_text())["target"]["sha256"]
    same = interlace(tmp_path, "replay", "s.json")
    assert "changed since the schedule was saved" not in same.stderr
    prog.write_text(prog.read_text() + "# edited\n")
    changed = interlace(tmp_path, "replay", "s.json")
    assert changed.stderr.startswith(f"interlace: note: {prog} changed since the schedule was saved (its SHA-256 "
                                     "differs): the replay may diverge, or not reproduce the failure.\n")


def test_report_has_the_race_sections_of_replay(tmp_path):
    write(tmp_path, "prog.py", RACY)
    assert interlace(tmp_path, "explore", "prog.py", "-o", "s.json", "--seed", "1").returncode == 1
    replayed = interlace(tmp_path, "replay", "s.json")
    reported = interlace(tmp_path, "report", "s.json")
    assert replayed.returncode == 1
    assert reported.returncode == 0
    assert "DATA RACE (lost update) on Counter.value" in replayed.stderr
    assert "DATA RACE (lost update) on Counter.value" in reported.stdout
    assert "did not reproduce" not in replayed.stderr + reported.stderr


def test_report_of_a_recording_points_to_replay(tmp_path):
    write(tmp_path, "prog.py", "print(1)\n")
    assert interlace(tmp_path, "run", "prog.py", "--record", "r.ilr", "--keep", "all").returncode == 0
    done = interlace(tmp_path, "report", "r.ilr")
    assert (done.returncode, done.stderr) == (2, (
        "interlace: r.ilr is a recording of `interlace run`, not a schedule; its report comes from its replay: "
        "interlace replay --html OUT.html r.ilr\n"))


@pytest.mark.parametrize("command", ["replay", "report"])
@pytest.mark.parametrize("name", ["junk.bin", "junk.json"])
def test_binary_junk_gets_a_clear_message(tmp_path, command, name):
    (tmp_path / name).write_bytes(b"\x00\xff\xfe junk \x81\x82")
    done = interlace(tmp_path, command, name)
    assert (done.returncode, done.stderr) == (2, (
        f"interlace: '{name}' is not an interlace schedule: it is binary data (it starts with the bytes "
        "00 ff fe 20 6a 75 6e 6b), not JSON text. Pass a .json schedule written by `interlace explore`, or a .ilr "
        "recording written by `interlace run`.\n"))


# -- exit codes -----------------------------------------------------------------------------------------


def test_exit_codes_are_documented_in_help_and_readme(tmp_path):
    assert EXIT_CODES == ("exit codes: 0 no failure, 1 a failure found (or reproduced by replay), 2 usage or input "
                          "error, 3 the program diverged from the schedule or recording being replayed, 4 an internal "
                          "error of interlace (please report it), 130 interrupted (Ctrl-C), 141 the output's "
                          "reader went away (interlace ... | head)")
    helped = " ".join(interlace(tmp_path, "--help").stdout.split())
    assert "Exit codes: 0 no failure, 1 a failure found" in helped
    readme = open(os.path.join(os.path.dirname(_SRC), "README.md"), encoding="utf-8").read()
    sentence = " ".join(readme[readme.index("Exit codes:"):].split("\n\n")[0].split())
    for code in ("`0`", "`1`", "`2`", "`3`", "`4`", "`130`", "`141`"):
        assert code in sentence


def test_json_result_is_versioned_and_its_traceback_clean(tmp_path):
    write(tmp_path, "fails.py", """
        import threading

        def work():
            raise ValueError("boom")

        t = threading.Thread(target=work)
        t.start()
        t.join()
    """)
    done = interlace(tmp_path, "explore", "fails.py", "--json", "-n", "3", "-o", "f.json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["format"], doc["version"], doc["failure"]["kind"]) == ("interlace-result", 1, "exception")
    assert 'fails.py", line 5, in work' in doc["failure"]["traceback"]
    assert f"{os.sep}interlace{os.sep}" not in doc["failure"]["traceback"]
    assert doc["schedule_file"] == "f.json"


def test_the_readme_sample_output_is_what_interlace_prints(tmp_path):
    """The README's first example, line for line (``...`` skips lines), from a copy of the example."""
    root = os.path.dirname(_SRC)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "counter.py").write_text(open(os.path.join(root, "examples", "counter.py")).read())
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    block = readme.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0] == "$ interlace explore examples/counter.py --seed 1"
    done = interlace(tmp_path, "explore", "examples/counter.py", "--seed", "1", env=dict(_ENV, NO_COLOR="1"))
    assert done.returncode == 1
    printed = (done.stdout + done.stderr).replace(str(tmp_path) + os.sep, "").splitlines()
    at = 0
    for line in block[1:]:
        if line == "...":
            continue
        assert line in printed[at:], f"README line not printed (in this order): {line!r}"
        at = printed.index(line, at) + 1
