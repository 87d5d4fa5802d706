"""`interlace run` / `replay` / `show` on small programs: inputs of every kind, keep policies, thread
exceptions, interrupted runs, other Python versions."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from run_seeds import pinned

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")

pytestmark = pytest.mark.timeout(300)


def cli(*args: str, cwd: str, stdin: bytes | None = None, python: str = sys.executable,
        extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=SRC, **(extra_env or {}))
    env.pop("PYTHONHASHSEED", None)
    return subprocess.run([python, "-m", "interlace", *pinned(args)], cwd=cwd, env=env, input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True,
                          timeout=120)


def program(tmp_path, source: str, name: str = "prog.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


INPUTS = """
    import datetime, os, random, secrets, threading, time, uuid

    results = []

    def work(n):
        time.sleep(0.01 * n)
        results.append((n, round(time.monotonic(), 3), random.random()))

    name = input("name? ")
    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(name, sorted(results))
    print(time.time(), time.perf_counter_ns(), time.process_time(), time.ctime())
    print(datetime.datetime.now().isoformat(), datetime.date.today().isoformat())
    print(uuid.uuid4(), uuid.uuid1().hex[:8], secrets.token_hex(8), random.Random().random())
    print(os.environ.get("INTERLACE_TEST_VALUE"), os.getenv("INTERLACE_TEST_MISSING", "-"))
    print({"a", "b", "c", "d", "e"} == set("abcde"), list({"x": 1, "y": 2}))
    print("hash order:", list({"alpha", "beta", "gamma", "delta"}), os.getpid())
"""


def test_every_kind_of_input_replays_identically(tmp_path) -> None:
    prog = program(tmp_path, INPUTS)
    done = cli("run", "-q", "--keep", "all", "--record", "r.ilr", prog, cwd=str(tmp_path), stdin=b"carol\n",
               extra_env={"INTERLACE_TEST_VALUE": "v1"})
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().startswith("name? carol [(0, ")
    for _ in range(2):
        again = cli("replay", "-q", "r.ilr", cwd=str(tmp_path), extra_env={"INTERLACE_TEST_VALUE": "other"})
        assert again.returncode == 0, again.stderr.decode()
        assert again.stdout == done.stdout
        assert again.stderr == done.stderr
    shown = cli("show", "r.ilr", cwd=str(tmp_path)).stdout.decode()
    for kind in ("stdin 1", "environ 2", "uuid.uuid1 1", "random.Random() 1", "datetime.now 1",
                 "date.today 1", "time.localtime 1"):
        assert kind in shown


RACY = """
import threading

n = 0


def work():
    global n
    for _ in range(50):
        n = n + 1


threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


def test_a_run_that_found_a_race_keeps_its_recording(tmp_path) -> None:
    racy = program(tmp_path, RACY, "racy.py")
    done = cli("run", racy, cwd=str(tmp_path))
    err = done.stderr.decode()
    assert done.returncode == 0 and done.stdout == b"done\n", err
    assert "interlace: race: DATA RACE (lost update) on n: " in err
    [path] = glob.glob(str(tmp_path / ".interlace" / "recordings" / "racy-*.ilr"))
    assert "interlace: the run ran without failure but found 1 race(s) or lock-order inversion(s); recorded " in err
    assert f"replay it: interlace replay {os.path.relpath(path, tmp_path)}" in err
    again = cli("replay", os.path.relpath(path, tmp_path), cwd=str(tmp_path))
    assert again.returncode == 0 and again.stdout == b"done\n"
    assert "DATA RACE (lost update) on n: " in again.stderr.decode()


def test_keep_policies_and_force(tmp_path) -> None:
    ok = program(tmp_path, "print('fine')\n", "ok.py")
    bad = program(tmp_path, "import sys\nprint('bad')\nsys.exit(4)\n", "bad.py")
    done = cli("run", ok, cwd=str(tmp_path))
    assert done.returncode == 0 and done.stdout == b"fine\n"
    assert "recording not kept (--keep failing)" in done.stderr.decode()
    assert glob.glob(str(tmp_path / ".interlace" / "recordings" / "*")) == []
    done = cli("run", bad, cwd=str(tmp_path))
    assert done.returncode == 4 and done.stdout == b"bad\n"
    [path] = glob.glob(str(tmp_path / ".interlace" / "recordings" / "bad-*.ilr"))
    assert f"replay it: interlace replay {os.path.relpath(path, tmp_path)}" in done.stderr.decode()
    assert cli("run", "--keep", "all", "--record", "x.ilr", ok, cwd=str(tmp_path)).returncode == 0
    assert os.path.exists(tmp_path / "x.ilr")
    again = cli("run", "--keep", "all", "--record", "x.ilr", ok, cwd=str(tmp_path))
    assert again.returncode == 2
    assert again.stderr.decode() == ("interlace: 'x.ilr' already exists; interlace never overwrites "
                                     "a recording. "
                                     "Pass --force to replace it, or choose another --record path.\n")
    assert cli("run", "--keep", "all", "--force", "--record", "x.ilr", ok, cwd=str(tmp_path)).returncode == 0
    assert cli("run", "--keep", "none", "--record", "y.ilr", bad, cwd=str(tmp_path)).returncode == 4
    assert not os.path.exists(tmp_path / "y.ilr")


def test_a_thread_exception_is_printed_like_python_and_the_program_goes_on(tmp_path) -> None:
    prog = program(tmp_path, """
        import threading

        def boom():
            raise ValueError("boom")

        t = threading.Thread(target=boom, name="worker")
        t.start()
        t.join()
        print("after")
    """)
    done = cli("run", "-q", "--record", "t.ilr", prog, cwd=str(tmp_path))
    assert done.returncode == 0
    assert done.stdout == b"after\n"
    err = done.stderr.decode()
    assert err.startswith("Exception in thread worker:\nTraceback (most recent call last):\n")
    assert err.endswith('    raise ValueError("boom")\nValueError: boom\n')
    plain = subprocess.run([sys.executable, prog], capture_output=True, timeout=60)
    assert (done.stdout, done.stderr) == (plain.stdout, plain.stderr)  # exactly what Python prints
    assert "interlace" not in err
    assert os.path.exists(tmp_path / "t.ilr")  # kept: a thread died
    again = cli("replay", "-q", "t.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout, again.stderr) == (0, done.stdout, done.stderr)


def test_main_exception_traceback_and_exit_code(tmp_path) -> None:
    prog = program(tmp_path, "def f():\n    raise KeyError('k')\n\nf()\n")
    done = cli("run", "-q", "--record", "m.ilr", prog, cwd=str(tmp_path))
    assert done.returncode == 1
    plain = subprocess.run([sys.executable, prog], capture_output=True, timeout=60)
    assert plain.returncode == 1
    assert done.stderr == plain.stderr  # exactly what Python prints


def test_subprocess_and_files(tmp_path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("first\n")
    prog = program(tmp_path, f"""
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
        print(out.returncode, out.stdout.strip(), subprocess.check_output(["echo", "hi"]))
        with open({str(data)!r}) as f:
            print(f.read().strip())
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "hash.ilr", prog, cwd=str(tmp_path))
    assert done.stdout == b"0 42 b'hi\\n'\nfirst\n", done.stderr.decode()
    done2 = cli("run", "-q", "--keep", "all", "--record-files", "--record", "full.ilr", prog,
                cwd=str(tmp_path))
    assert done2.stdout == done.stdout
    assert cli("replay", "-q", "hash.ilr", cwd=str(tmp_path)).stdout == done.stdout
    data.write_text("second\n")
    changed = cli("replay", "hash.ilr", cwd=str(tmp_path))
    assert changed.returncode == 3
    assert f"reads {str(data)!r}, which changed since the run was recorded" in changed.stderr.decode()
    data.unlink()
    full = cli("replay", "-q", "full.ilr", cwd=str(tmp_path))
    assert (full.returncode, full.stdout) == (0, done.stdout)


def test_an_interrupted_run_leaves_a_usable_recording(tmp_path) -> None:
    prog = program(tmp_path, """
        import threading, sys
        n = 0
        def work():
            global n
            while True:  # until the run is killed
                n += 1
        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        print("started", flush=True)
        for t in ts:
            t.join()
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    command = [sys.executable, "-m", "interlace", "run", "--races", "off", "--record", "k.ilr", prog]
    proc = subprocess.Popen(command, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stdout.readline() == b"started\n"
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    from interlace.recording import load

    rec = load(str(tmp_path / "k.ilr"))
    assert not rec.complete and len(rec.decisions) > 100
    shown = cli("show", "k.ilr", cwd=str(tmp_path))
    assert "outcome    unknown: the recording has no end" in shown.stdout.decode()
    again = cli("replay", "k.ilr", cwd=str(tmp_path))
    assert again.returncode == 0
    assert again.stdout == b"started\n"
    assert (f"interlace: the recording ends at decision {len(rec.decisions)} (the recorded run was "
            "interrupted "
            "there); the replay stops at the same point.") in again.stderr.decode()


def _other_pythons() -> list[str]:
    found = []
    for version in ("3.12", "3.13"):
        for exe in sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}"))):
            found.append(exe)
            break
    return found


@pytest.mark.parametrize("python", _other_pythons() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no Python 3.12/3.13 under ~/.pyenv/versions"))])
def test_a_recording_replays_on_another_python_version(tmp_path, python: str) -> None:
    prog = program(tmp_path, """
        import random, threading, time
        total = 0
        def work(k):
            global total
            for i in range(3):
                v = total
                time.sleep(0)
                total = v + k
        ts = [threading.Thread(target=work, args=(k,)) for k in (1, 10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print(total, random.random(), round(time.time()) > 0)
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "v.ilr", "--seed", "5", prog, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    again = cli("replay", "v.ilr", cwd=str(tmp_path), python=python)
    err = again.stderr.decode()
    if again.returncode == 0:
        assert again.stdout == done.stdout
        assert "same output, outcome (ok) and exit code (0) as the recorded run" in err
    else:  # it may not replay, but then it says precisely where and why
        assert again.returncode == 3, err
        assert "interlace: the program diverged from the recording at step " in err
        assert "Traceback" not in err


def test_replay_until_a_step_opens_pdb_in_the_running_thread(tmp_path) -> None:
    prog = program(tmp_path, """
        import threading
        total = 0
        def work(k):
            global total
            for i in range(3):
                v = total
                total = v + k
        ts = [threading.Thread(target=work, args=(k,)) for k in (1, 10)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("total", total)
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "u.ilr", "--seed", "2", prog, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    again = cli("replay", "-q", "--until", "30", "u.ilr", cwd=str(tmp_path), stdin=b"p 6 * 7\nc\n")
    out = again.stdout.decode()
    assert again.returncode == 0, again.stderr.decode()
    assert out.startswith("interlace: replay paused at step ")
    assert " in thread '" in out
    assert f"> {prog}(" in out
    assert "(Pdb) 42\n(Pdb) " in out
    assert out.endswith(done.stdout.decode())


def test_selectors_readiness_is_recorded(tmp_path) -> None:
    prog = program(tmp_path, """
        import selectors, socket, threading
        a, b = socket.socketpair()
        def writer():
            b.sendall(b"ping")
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ)
        t = threading.Thread(target=writer)
        t.start()
        events = sel.select(timeout=5)
        print(len(events), a.recv(10))
        t.join()
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "s.ilr", prog, cwd=str(tmp_path))
    assert (done.returncode, done.stdout) == (0, b"1 b'ping'\n"), done.stderr.decode()
    again = cli("replay", "-q", "s.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout, again.stderr) == (0, done.stdout, done.stderr)
    shown = cli("show", "s.ilr", cwd=str(tmp_path)).stdout.decode()
    assert "select.select 1" in shown


def test_a_deadlocked_run_is_kept_and_replays_the_same_report(tmp_path) -> None:
    prog = program(tmp_path, """
        import threading
        a, b = threading.Lock(), threading.Lock()
        def one():
            with a:
                with b:
                    pass
        def two():
            with b:
                with a:
                    pass
        ts = [threading.Thread(target=one), threading.Thread(target=two)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    """)
    for seed in range(1, 41):
        # --force: a run without the deadlock is kept too (it found the lock-order inversion)
        done = cli("run", "-q", "--strategy", "pct", "--seed", str(seed), "--record", "d.ilr", "--force", prog,
                   cwd=str(tmp_path))
        if done.returncode == 1:
            break
    else:
        pytest.fail("no deadlock in 40 runs")
    err = done.stderr.decode()
    assert err.startswith("interlace: deadlock: 'Thread-")
    again = cli("replay", "-q", "d.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout, again.stderr) == (1, done.stdout, done.stderr)
    assert "outcome    deadlock: 'Thread-" in cli("show", "d.ilr", cwd=str(tmp_path)).stdout.decode()


def test_popen_results_replay_without_starting_processes(tmp_path) -> None:
    marker = tmp_path / "started"
    prog = program(tmp_path, f"""
        import subprocess, sys
        child = "import pathlib, sys; pathlib.Path({str(marker)!r}).touch(); print(sys.stdin.read().upper())"
        p = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        out, err = p.communicate(b"hello")
        print(out, err, p.returncode, p.pid > 0)
        with subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"]) as q:
            pass
        print(q.returncode, q.poll())
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "p.ilr", prog, cwd=str(tmp_path))
    assert done.stdout == b"b'HELLO\\n' None 0 True\n3 3\n", done.stderr.decode()
    marker.unlink()
    again = cli("replay", "-q", "p.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout, again.stderr) == (0, done.stdout, done.stderr)
    assert not marker.exists()


def test_interlace_own_cache_reads_are_not_program_inputs(tmp_path) -> None:
    (tmp_path / "helper.py").write_text("import os, time\nHOME = os.environ.get('HOME')\n"
                                        "def now():\n    return time.time()\n")
    prog = program(tmp_path, "import helper\nprint(helper.HOME, helper.now())\n")
    cache = {"INTERLACE_CACHE_DIR": str(tmp_path / "cache")}  # empty when recording, full when replaying
    done = cli("run", "-q", "--keep", "all", "--record", "c.ilr", prog, cwd=str(tmp_path), extra_env=cache)
    assert done.returncode == 0, done.stderr.decode()
    again = cli("replay", "-q", "c.ilr", cwd=str(tmp_path), extra_env=cache)
    assert (again.returncode, again.stdout, again.stderr) == (0, done.stdout, done.stderr)
    shown = cli("show", "c.ilr", cwd=str(tmp_path)).stdout.decode()
    assert "inputs     2 (environ 1, time.time 1)" in shown


def test_run_a_module_like_python_dash_m(tmp_path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__main__.py").write_text("import sys\nprint('main', sys.argv[1:], __package__)\n")
    plain = subprocess.run([sys.executable, "-m", "pkg", "a", "b"], cwd=str(tmp_path), capture_output=True)
    done = cli("run", "-q", "--keep", "all", "--record", "m.ilr", "-m", "pkg", "a", "b", cwd=str(tmp_path))
    assert (done.returncode, done.stdout) == (0, plain.stdout) == (0, b"main ['a', 'b'] pkg\n")
    again = cli("replay", "-q", "m.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout) == (0, plain.stdout)


def test_thread_identities_are_virtual_so_replay_prints_the_same(tmp_path) -> None:
    # Real thread idents are addresses that change from run to run; the program sees virtual ones
    # (get_ident, Thread.ident, native ids, repr, log records), so a replay prints what it printed.
    prog = program(tmp_path, """
        import logging, sys, threading
        logging.basicConfig(format="%(thread)d %(threadName)s %(message)s", level=logging.INFO, stream=sys.stdout)

        def work():
            print("worker", threading.get_ident(), threading.current_thread().ident, threading.get_native_id())
            logging.info("hello")

        t = threading.Thread(target=work)
        t.start()
        t.join()
        print("main", threading.get_ident(), t.ident, t.native_id, t)
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "ids.ilr", prog, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    base = 0x7F0000000000
    assert done.stdout.decode().splitlines() == [
        f"worker {base + 0x1000} {base + 0x1000} 100001",
        f"{base + 0x1000} Thread-1 (work) hello",
        f"main {base} {base + 0x1000} 100001 <Thread(Thread-1 (work), stopped {base + 0x1000})>",
    ]
    again = cli("replay", "-q", "ids.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout) == (0, done.stdout)


def test_popen_pipe_reads_and_writes_are_recorded_and_replayed(tmp_path) -> None:
    marker = tmp_path / "started"
    prog = program(tmp_path, f"""
        import pathlib, subprocess, sys
        child = ("import pathlib, sys\\npathlib.Path({str(marker)!r}).touch()\\n"
                 "for line in sys.stdin: print(line.strip().upper(), flush=True)\\nprint('bye', file=sys.stderr)")
        p = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdin.write("hello\\nworld\\n")
        p.stdin.close()
        for line in p.stdout:
            print("got", line.strip())
        print("err", p.stderr.read().strip(), p.wait())
        with subprocess.Popen([sys.executable, "-c", "print('x' * 10)"], stdout=subprocess.PIPE) as q:
            buf = bytearray(4)
            print(q.stdout.readinto(buf), bytes(buf), q.stdout.readline())
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "pipes.ilr", prog, cwd=str(tmp_path))
    assert done.stdout == b"got HELLO\ngot WORLD\nerr bye 0\n4 b'xxxx' b'xxxxxx\\n'\n", done.stderr.decode()
    marker.unlink()
    again = cli("replay", "-q", "pipes.ilr", cwd=str(tmp_path))
    assert (again.returncode, again.stdout, again.stderr) == (0, done.stdout, done.stderr)
    assert not marker.exists()  # no process was started
    shown = cli("show", "--inputs", "pipes.ilr", cwd=str(tmp_path)).stdout.decode()
    assert "subprocess.stdout" in shown and "subprocess.stdin" in shown


def test_replay_of_a_recording_writes_its_html_timeline(tmp_path) -> None:
    prog = program(tmp_path, """
        import queue, threading
        q = queue.Queue()
        box = {"v": 0}

        def producer():
            box["v"] = 1
            q.put("item")

        def consumer():
            q.get()
            box["v"] += 1

        ts = [threading.Thread(target=producer), threading.Thread(target=consumer)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print(box["v"])
    """)
    done = cli("run", "--keep", "all", "--record", "q.ilr", prog, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    again = cli("replay", "q.ilr", "--html", "out/q.html", cwd=str(tmp_path))
    assert (again.returncode, again.stdout) == (0, done.stdout)
    page = (tmp_path / "out" / "q.html").read_text()
    assert f"interlace: HTML report: {tmp_path / 'out' / 'q.html'}" in again.stderr.decode()
    assert '"handoff hb-queue"]' in page and "interlace replay q.ilr" in page
    assert "Thread-1 (producer)" in page and "Thread-2 (consumer)" in page


def test_a_recording_cut_short_replays_its_intact_part_with_salvage(tmp_path) -> None:
    prog = program(tmp_path, """
        import random, threading
        lock = threading.Lock()
        def work(name):
            for i in range(6000):  # about 150 KB of records: the writer flushes a frame every 64 KB
                with lock:
                    x = random.random()
                    if i % 100 == 0:
                        print(name, i, x, flush=True)
        ts = [threading.Thread(target=work, args=(n,)) for n in "ab"]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    """)
    # a random walk records every decision (time slices would record few): several frames
    done = cli("run", "-q", "--strategy", "random", "--keep", "all", "--record", "whole.ilr", prog,
               cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    data = (tmp_path / "whole.ilr").read_bytes()
    (tmp_path / "cut.ilr").write_bytes(data[:len(data) // 2])  # inside a frame mid-file: those before are intact
    refused = cli("replay", "cut.ilr", cwd=str(tmp_path))
    assert refused.returncode == 2 and refused.stdout == b""
    assert "`interlace replay --salvage` replays them" in refused.stderr.decode()
    salvaged = cli("replay", "--salvage", "cut.ilr", cwd=str(tmp_path))
    err = salvaged.stderr.decode()
    assert "interlace: note: the recording is cut short at byte " in err
    assert "(the recorded run was interrupted there); the replay stops at the same point." in err
    assert 0 < len(salvaged.stdout) < len(done.stdout)
    assert done.stdout.startswith(salvaged.stdout)  # exactly the run, as far as the file goes


def test_replay_says_where_the_output_first_differs(tmp_path) -> None:
    (tmp_path / "msg.py").write_text("TEXT = 'recorded'\n")
    prog = program(tmp_path, """
        import msg
        print("same")
        print(msg.TEXT)
        print("tail")
    """)
    done = cli("run", "-q", "--keep", "all", "--record", "m.ilr", prog, cwd=str(tmp_path))
    assert done.stdout == b"same\nrecorded\ntail\n", done.stderr.decode()
    (tmp_path / "msg.py").write_text("TEXT = 'changed'\n")
    again = cli("replay", "m.ilr", cwd=str(tmp_path))
    err = again.stderr.decode().splitlines()
    assert err[-2:] == [
        "interlace: replayed m.ilr, but its stdout differs from the recorded run (recorded: ok, exit code 0; "
        "now: ok, exit code 0).",
        "interlace: stdout first differs at line 2: recorded 'recorded', now 'changed'",
    ]
    shown = cli("show", "--output", "m.ilr", cwd=str(tmp_path)).stdout.decode().splitlines()
    assert shown[-5:] == ["stdout:", "  | same", "  | recorded", "  | tail", "stderr: (nothing)"]


def test_first_difference_wording() -> None:
    from interlace.drivers.run import first_difference

    assert first_difference("a\nb\n", "a\nc\n") == "first differs at line 2: recorded 'b', now 'c'"
    assert first_difference("a\n", "a\nmore\n") == "first differs at line 2: the recorded run's ends before 'more'"
    assert first_difference("a\nb\n", "a\n") == "first differs at line 2: it ends before 'b'"
    assert first_difference("a\n", "a") == "differs only in its line endings"
    assert first_difference(None, "x") == ""
    assert first_difference("x" * 100, "y" * 100) == f"first differs at line 1: recorded {'x' * 80 + '...'!r}, " \
                                                      f"now {'y' * 80 + '...'!r}"


def test_a_stand_in_is_scheduled_like_the_function_it_replaces() -> None:
    import socket

    from interlace.inputs import RECORD, Channel
    from interlace.runtime.calls import CallClassifier

    classifier = CallClassifier()
    channel = Channel(RECORD)
    channel.install(("sockets", "processes"))
    try:
        recv = socket.socket.recv  # interlace's recording stand-in while installed
        assert recv.__module__.startswith("interlace")  # it is interlace's code...
        assert classifier.classify(recv, (), None)[:2] == ("call", f"socket.{recv.__qualname__}")  # ...scheduled
    finally:
        channel.uninstall()
    assert classifier.classify(CallClassifier.classify, (), None)[0] is None  # interlace's own code: no point
