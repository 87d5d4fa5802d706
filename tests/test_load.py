"""No decision of an execution depends on wall-clock time or machine load (issue 12): the same seed
gives the same exploration on an idle and on a saturated machine, and a thread that is merely slow
(computing in C) never changes what the other threads do."""

import json
import os
import subprocess
import sys

import pytest
from rwlock_program import program

import interlace

_TESTS = os.path.dirname(os.path.abspath(__file__))
_SRC = os.path.join(os.path.dirname(_TESTS), "src")

_SCRIPT = """
import hashlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import interlace
from rwlock_program import program

runs = []

def note(index, ex):
    runs.append((tuple(ex.choices), [(e.tid, e.kind, e.what) for e in ex.trace]))

result = interlace.explore(lambda: program(work=int(sys.argv[3]), rw_work=1_000_000), executions=4, seed=11,
                           strategy="pct", races="warn", on_execution=note)
doc = result.to_dict()
doc.pop("elapsed", None)
print(json.dumps({"executions": hashlib.sha256(repr(runs).encode()).hexdigest(), "result": doc},
                 sort_keys=True))
"""


_PROGRAM = """
import hashlib
import queue
import socket
import threading
import time

counter = 0
q = queue.Queue()
cond = threading.Condition()
ready = []


def work():
    hashlib.pbkdf2_hmac("sha256", b"x", b"y", 20_000)  # in C, with no scheduling point


def producer():
    global counter
    left, right = socket.socketpair()
    for i in range(3):
        work()
        q.put(i)
        left.sendall(b"x")
        right.recv(1)
        time.sleep(0.01)
    with cond:
        ready.append(1)
        cond.notify_all()
    counter = counter + 1


def consumer():
    global counter
    got = [q.get() for _ in range(3)]
    with cond:
        cond.wait_for(lambda: ready, timeout=2)
    value = counter
    work()
    counter = value + 1
    assert got == [0, 1, 2]


threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert counter == 2, counter
"""


def _without_times(doc):
    if isinstance(doc, dict):
        return {k: _without_times(v) for k, v in doc.items() if k != "elapsed"}
    if isinstance(doc, list):
        return [_without_times(v) for v in doc]
    return doc


def _cli_json(tmp_path, phase: str) -> list:
    docs = []
    cwd = tmp_path / phase  # (each phase saves its schedules in a directory of its own)
    cwd.mkdir()
    for options in (["-n", "40"], ["-n", "60", "--strategy", "dpor"]):
        done = subprocess.run([sys.executable, "-m", "interlace", "explore", "--json", "--seed", "5", *options,
                               str(tmp_path / "program.py")], capture_output=True, text=True, cwd=cwd,
                              env=dict(os.environ, PYTHONPATH=_SRC), timeout=240)
        assert done.returncode in (0, 1), done.stderr
        docs.append(_without_times(json.loads(done.stdout)))
    return docs


def _burners() -> list:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]


@pytest.mark.timeout(600)
def test_same_seed_same_json_idle_and_under_cpu_load(tmp_path):
    # the command line's --json result (times aside) of a failing exploration with its shrunk schedule,
    # races, sockets, a queue, a timed condition wait, sleeps and computation in C between points
    (tmp_path / "program.py").write_text(_PROGRAM)
    idle = _cli_json(tmp_path, "idle")
    burners = _burners()
    try:
        loaded = _cli_json(tmp_path, "loaded")
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert loaded == idle
    for doc in idle:
        assert doc["failure"]["message"] == "AssertionError in the main function: 1"
        assert [(r["what"], r["severity"]) for r in doc["races"]] == [("counter", "note"), ("counter", "error")]


def _explore_in_child(work: int) -> dict:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, _SRC, _TESTS, str(work)], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_readers_writer_lock_on_a_condition_is_correct():
    result = interlace.explore(lambda: program(work=200_000), executions=60, seed=3, races="off")
    assert result.failure is None, result.report()
    assert result.ok


@pytest.mark.timeout(600)
def test_same_seed_same_exploration_idle_and_under_cpu_load():
    # each reader computes ~0.5 s in C with the baton: long enough that a wall-clock watchdog would
    # hand the baton to another thread, sooner on a loaded machine
    work = 700_000
    idle = _explore_in_child(work)
    burners = _burners()
    try:
        loaded = _explore_in_child(work)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert loaded == idle
    assert idle["result"]["ok"] is True
