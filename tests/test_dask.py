"""--dask: the partitioned exploration on a real local Dask cluster (a scheduler and two workers on
loopback) gives the answer of --workers 1, for a failing and a passing exploration, and so does
dfs's tree split between the cluster's workers."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.timeout(120)

distributed = pytest.importorskip("distributed", reason="Dask's distributed is not installed (the [dask] extra)")

PROGRAM = os.path.join(os.path.dirname(__file__), "workers_script.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler.log", "w"))]
    try:
        for i in range(2):
            procs.append(subprocess.Popen(
                [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"],
                stdout=subprocess.DEVNULL, stderr=open(logs / f"worker{i}.log", "w")))
        deadline = time.monotonic() + 60
        while True:
            try:
                with distributed.Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(deadline - time.monotonic(), 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for proc in procs:  # nothing of theirs to keep: no graceful shutdown
            proc.kill()
        for proc in procs:
            proc.wait(10)


def _explore(tmp_path, name, *args):
    done = subprocess.run([sys.executable, "-m", "interlace", "explore", PROGRAM, "--seed", "2", "--json",
                           "-o", str(tmp_path / f"{name}.json"), *args], capture_output=True, text=True,
                          timeout=90, cwd=tmp_path)
    doc = json.loads(done.stdout)
    doc.pop("elapsed")
    doc.pop("schedule_file", None)
    return done.returncode, doc


def test_a_failing_exploration_on_dask_is_the_one_of_one_worker(cluster, tmp_path):
    code, on_dask = _explore(tmp_path, "dask", "--dask", cluster)
    local_code, local = _explore(tmp_path, "local", "--workers", "1")
    assert code == local_code == 1
    assert on_dask == local
    assert on_dask["executions"] == 4 and on_dask["schedule"]["execution"] == 3  # DPOR's second, after its first


def test_a_passing_exploration_on_dask_is_the_one_of_one_worker(cluster, tmp_path):
    code, on_dask = _explore(tmp_path, "dask", "-n", "200", "--dask", cluster, "--", "--correct")
    local_code, local = _explore(tmp_path, "local", "-n", "200", "--workers", "1", "--", "--correct")
    assert code == local_code == 0
    assert on_dask == local
    assert on_dask["ok"] and on_dask["executions"] == 200


def test_dfs_on_dask_splits_its_tree_and_gives_the_answer_of_one_worker(cluster, tmp_path):
    """Each Dask worker walks its units of the tree (drivers/dask_tree.py): the failure one worker finds
    first, and a walk of every schedule within the bound with its coverage, as with --workers 1."""
    dfs = ("--strategy", "dfs")
    code, on_dask = _explore(tmp_path, "dask", *dfs, "--dask", cluster)
    local_code, local = _explore(tmp_path, "local", *dfs, "--workers", "1")
    assert code == local_code == 1
    assert on_dask == local
    assert on_dask["executions"] == 94 and on_dask["schedule"]["execution"] == 93  # in iteration 1
    bounded = (*dfs, "-n", "1000", "--max-preemptions", "1")
    code, on_dask = _explore(tmp_path, "dask", *bounded, "--dask", cluster, "--", "--correct")
    local_code, local = _explore(tmp_path, "local", *bounded, "--workers", "1", "--", "--correct")
    assert code == local_code == 0
    assert on_dask == local
    assert on_dask["exhausted"] and on_dask["executions"] == 263
    assert on_dask["coverage"] == {"strategy": "DFS", "classes": 263, "unit": "schedules", "bound": 1,
                                   "complete": False, "estimate": on_dask["coverage"]["estimate"]}
    with distributed.Client(cluster, timeout=10) as client:  # each exploration deleted its limit Variable
        assert client.run_on_scheduler(eval, VARIABLES) == []


# the Variables on the scheduler, by a builtin (the scheduler cannot import this module; a function of it
# sent by value would carry the instrumentation pytest --interlace gives it)
VARIABLES = ("sorted(v for s in __import__('distributed').Scheduler._instances "
             "for v in s.extensions['variables'].variables)")


def test_a_retried_dfs_task_telling_its_walk_again_is_taken_once():
    # a Dask task run again (its worker died) tells its messages again from the first: each is taken once,
    # and its position and count never go back
    from interlace.drivers.dask_tree import DaskTreeWorkers
    from interlace.drivers.workers import LaneEnd

    class Batches:
        def __init__(self, batches):
            self.batches = batches

        def get(self, batch):
            out, self.batches = self.batches, []
            return out

    end = LaneEnd(5, [])
    backend = DaskTreeWorkers.__new__(DaskTreeWorkers)
    backend.n, backend.running, backend.done, backend.ended, backend.told = 2, [-1, -1], [0, 0], [False] * 2, [0, 0]
    backend.futures = []
    backend.queue = Batches([(0, 0, 10, 2, ["a", "b"]), (1, 0, 4, 1, ["x"]), (0, 2, 30, 3, ["c"]),
                             (0, 0, 12, 1, ["a"]), (0, 1, 20, 2, ["b", "c", "d"]), (0, 4, 40, 5, ["e", end])])
    assert backend.poll(0) == ["a", "b", "x", "c", "d", "e", end]
    assert backend.running == [40, 4] and backend.done == [5, 1] and backend.ended == [True, False]
    backend.queue = Batches([(0, 0, 3, 1, ["a", "b", "c", "d", "e", end])])
    assert backend.poll(0) == []


def test_dask_not_installed_says_how_to_install_it(tmp_path):
    # a sitecustomize that hides distributed, as if the extra were not installed
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['distributed'] = None\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "interlace", "explore", PROGRAM, "--dask", "tcp://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("interlace: --dask runs the exploration on a Dask cluster, and Dask's distributed "
                           "package is not installed here. Install it with: pip install 'interlace[dask]'\n")
    assert done.stdout == ""


def test_nothing_imports_dask_without_dask():
    code = ("import sys, interlace, interlace.cli, interlace.drivers.workers, interlace.pytest_plugin\n"
            "assert not {'dask', 'distributed'} & set(sys.modules), sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_dpor_on_dask_runs_its_executions_ahead_and_gives_the_answer_of_one_worker(cluster, tmp_path):
    """The Dask workers run DPOR's subtrees ahead of it, the coordinator takes their executions in DPOR's
    order (drivers/dask_dpor.py): the failure, and a budget's executions and class count, of one worker."""
    dpor = ("--strategy", "dpor")
    code, on_dask = _explore(tmp_path, "dask", *dpor, "--dask", cluster)
    local_code, local = _explore(tmp_path, "local", *dpor, "--workers", "1")
    assert code == local_code == 1
    assert on_dask == local
    assert on_dask["executions"] == 2 and on_dask["schedule"]["execution"] == 1
    code, on_dask = _explore(tmp_path, "dask", *dpor, "-n", "100", "--dask", cluster, "--", "--correct")
    local_code, local = _explore(tmp_path, "local", *dpor, "-n", "100", "--workers", "1", "--", "--correct")
    assert code == local_code == 0
    assert on_dask == local
    assert on_dask["executions"] == 100 and on_dask["coverage"]["classes"] == 100
