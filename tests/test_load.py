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
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        loaded = _explore_in_child(work)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert loaded == idle
    assert idle["result"]["ok"] is True
