"""The bundled example of issue 3: record a failing run of examples/echo_race.py (stdin, clock, random,
uuid, a TCP echo server, a lost update), then replay it without the server and without stdin."""

from __future__ import annotations

import os
import shutil
import socketserver
import subprocess
import sys
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
EXAMPLE = os.path.join(ROOT, "examples", "echo_race.py")
ATTEMPTS = 40

pytestmark = pytest.mark.timeout(600)


class _Echo(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def env(**extra: str) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = SRC + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("PYTHONHASHSEED", None)
    e.update(extra)
    return e


def interlace(*args: str, cwd: str, stdin: bytes | None = None, python: str = sys.executable,
              timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "interlace", *args], cwd=cwd, env=env(), input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A failing run of the example, recorded while the echo server ran; the server is stopped after."""
    work = tmp_path_factory.mktemp("echo")
    server = _Server(("127.0.0.1", 0), _Echo)
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    path = str(work / "failing.ilr")
    try:
        for seed in range(1, ATTEMPTS + 1):
            done = interlace("run", "-q", "--seed", str(seed), "--record", path, "--force", "--keep", "all",
                             EXAMPLE, str(port), cwd=str(work), stdin=b"alice\n")
            assert done.returncode in (0, 1), done.stderr.decode()
            if done.returncode == 1:
                # the races are printed as they are found, before the program's own last words
                assert b"\ncorrupted output: " in done.stderr, done.stderr.decode()
                break
        else:
            pytest.fail(f"no failing run in {ATTEMPTS} attempts")
    finally:
        server.shutdown()
        server.server_close()
    return {"dir": str(work), "path": path, "stdout": done.stdout, "stderr": done.stderr, "seed": seed,
            "port": port}


def test_run_records_a_failing_run(failing: dict) -> None:
    out = failing["stdout"].decode()
    assert out.startswith("hello alice, session ")
    assert out.count("echo: ") == 4
    counted = int(out.split("counted ")[1].split(" of 4 messages")[0])
    assert counted < 4
    err = failing["stderr"].decode()
    # interlace's race lines come as the races are found, before the program's own last line
    assert err.startswith("interlace: race: DATA RACE (") and " on sent: " in err.splitlines()[0]
    assert err.endswith(f"\ncorrupted output: {4 - counted} message(s) lost by the unlocked counter\n")
    assert os.path.getsize(failing["path"]) > 0


def test_replay_via_the_cli_is_byte_identical_without_server_or_stdin(failing: dict) -> None:
    for _ in range(3):
        done = interlace("replay", "-q", failing["path"], cwd=failing["dir"])
        assert done.returncode == 1
        assert done.stdout == failing["stdout"]
        assert done.stderr == failing["stderr"]


def test_replay_is_byte_identical_100_times_in_process(failing: dict) -> None:
    from interlace.recording import load

    seed = load(failing["path"]).header["hash_seed"]
    expected_out = os.path.join(failing["dir"], "expected.out")
    expected_err = os.path.join(failing["dir"], "expected.err")
    with open(expected_out, "wb") as f:
        f.write(failing["stdout"])
    with open(expected_err, "wb") as f:
        f.write(failing["stderr"])
    script = f"""
import io
from interlace.drivers.run import replay
from interlace.recording import load
rec = load({failing["path"]!r})
out_expected = open({expected_out!r}, encoding="utf-8").read()
err_expected = open({expected_err!r}, encoding="utf-8").read()
same = 0
for i in range(100):
    out, err = io.StringIO(), io.StringIO()
    o = replay({failing["path"]!r}, quiet=True, stdout=out, stderr=err, fresh_modules=True, recording=rec)
    if out.getvalue() == out_expected and err.getvalue() == err_expected and o.exit_code == 1 \\
            and o.divergence is None and o.outcome == "exit":
        same += 1
print(f"{{same}}/100")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=failing["dir"],
                          env=env(PYTHONHASHSEED=str(seed)), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=500)
    assert done.stdout.decode().strip() == "100/100", done.stderr.decode()[-3000:]


def test_show_summarises_the_recording(failing: dict) -> None:
    done = interlace("show", failing["path"], "--inputs", cwd=failing["dir"])
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode()
    assert f"scheduler  timeslice(max_mean=1000) seed {failing['seed']}, model free-threaded" in text
    assert "outcome    exit: exit status 1 (exit code 1, failing)" in text
    assert "threads    MainThread, Thread-1 (client), Thread-2 (client)" in text
    for kind in ("stdin 1", "time.time 1", "os.urandom 1", "socket.recv 4", "socket.connect 2"):
        assert kind in text
    assert "MainThread           stdin                  'alice\\n'" in text


def test_replay_after_moving_a_shared_access_reports_the_divergence(failing: dict, tmp_path) -> None:
    from interlace.recording import load

    # record a run of a copy of the example, then move `count = sent` below the `echoes.append` line
    copy = tmp_path / "echo_race.py"
    shutil.copy(EXAMPLE, copy)
    server = _Server(("127.0.0.1", 0), _Echo)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        # a random walk records (and its replay checks) every decision; time slices check only switches
        done = interlace("run", "-q", "--strategy", "random", "--seed", "3", "--record", "copy.ilr", "--keep",
                         "all", str(copy),
                         str(server.server_address[1]), cwd=str(tmp_path), stdin=b"bob\n")
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode in (0, 1)
    lines = copy.read_text().splitlines(keepends=True)
    read = next(i for i, line in enumerate(lines) if line.strip() == "count = sent")
    assert "echoes.append(" in lines[read + 1]
    lines[read], lines[read + 1] = lines[read + 1], lines[read]  # the read of `sent` moves one line down
    copy.write_text("".join(lines))
    rec = load(str(tmp_path / "copy.ilr"))
    moved = {read + 1, read + 2}  # 1-based line numbers of the two lines that swapped
    index, first = next((i, d) for i, d in enumerate(rec.decisions) if d.site and d.site[1] in moved)

    again = interlace("replay", "copy.ilr", cwd=str(tmp_path))
    err = again.stderr.decode()
    assert again.returncode == 3, err
    assert "Traceback" not in err
    assert "interlace: note: echo_race.py changed since the run was recorded" in err
    assert f"(decision {index + 1}): the recording runs thread " in err
    recorded_line = rec.source_lines[first.site]
    assert f"at echo_race.py:{first.site[1]}:{first.site[2]} ({first.op}) `{recorded_line}`" in err
    assert "but the program has it at echo_race.py:" in err
    actual = err.split("but the program has it at echo_race.py:")[1].split(":")[0]
    assert int(actual) in moved
    assert "The program or its environment changed since the run was recorded" in err
