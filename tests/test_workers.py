"""explore(workers=N): the seed's executions shared between worker processes, one answer for every N."""

import os
import signal
import subprocess
import sys
import time

import pytest

import interlace
from interlace.drivers.workers import worker_count

pytestmark = pytest.mark.timeout(180)

sys.path.insert(0, os.path.dirname(__file__))
import workers_programs as programs  # noqa: E402 - importable by name in the workers


def _answer(result):
    """Everything of a result that must not depend on the number of workers."""
    schedule = result.schedule
    return {
        "ok": result.ok, "executions": result.executions, "exhausted": result.exhausted,
        "failure": None if result.failure is None else result.failure.message,
        "schedule": None if schedule is None else (schedule.execution, schedule.choices),
        "original": None if result.original_schedule is None else result.original_schedule.choices,
        "races": [(r.summary(), r.execution) for r in result.races],
        "coverage": result.coverage, "threads": result.threads,
    }


# (strategy, seed, the execution that fails first): each fails after several executions (the portfolio's
# DPOR finds it at its second execution, index 3, which a worker runs after DPOR's first, index 0)
FAILING = [("pct", 1, 24), ("portfolio", 3, 3), ("random", 4, 6), ("pos", 1, 5), ("timeslice", 1, 26)]


@pytest.mark.parametrize(("strategy", "seed", "index"), FAILING, ids=[f[0] for f in FAILING])
def test_the_failure_found_does_not_depend_on_the_number_of_workers(strategy, seed, index):
    answers = []
    for workers in (1, 2, 3):
        result = interlace.explore(programs.intermediate_state, executions=300, seed=seed, strategy=strategy,
                                   workers=workers)
        answers.append(_answer(result))
    assert answers[0]["failure"] == "AssertionError in thread 'Thread-2 (reader)': saw the intermediate state"
    assert answers[0]["executions"] == index + 1
    assert answers[0]["schedule"][0] == index
    assert answers[1] == answers[0]
    assert answers[2] == answers[0]


def test_a_passing_exploration_runs_every_execution_and_lists_the_same_races():
    answers = [_answer(interlace.explore(programs.racy_flag, executions=40, seed=7, strategy="pct", races="warn",
                                         workers=workers)) for workers in (1, 2, 3)]
    assert answers[0]["ok"] and answers[0]["executions"] == 40
    assert [execution for _, execution in answers[0]["races"]] == [0]
    assert answers[1] == answers[0] == answers[2]


def test_races_that_fail_the_exploration_report_the_same_first_execution():
    answers = [_answer(interlace.explore(programs.racy_flag, executions=30, seed=7, strategy="random",
                                         workers=workers)) for workers in (1, 2)]
    assert answers[0]["failure"].startswith("1 data race(s) found; the first: DATA RACE (lost update) on dict['n']")
    assert answers[0]["executions"] == 30
    assert answers[1] == answers[0]


def test_an_exhausted_portfolio_says_so_with_the_same_count():
    answers = [_answer(interlace.explore(programs.no_threads, executions=50, seed=1, strategy="portfolio",
                                         workers=workers)) for workers in (1, 2, 3)]
    assert answers[0]["exhausted"] and answers[0]["executions"] == 3
    assert answers[0]["coverage"]["classes"] == 1
    assert answers[1] == answers[0] == answers[2]


def _dfs_answers(fn, executions, workers=(1, 2, 3), **options):
    results = [interlace.explore(fn, executions=executions, seed=1, strategy="dfs", workers=n, **options)
               for n in workers]
    return [(_answer(r), r.coverage_line()) for r in results]


def test_dfs_split_between_workers_reports_the_failure_one_worker_finds_first():
    answers = _dfs_answers(programs.intermediate_state, 2000)
    (answer, line) = answers[0]
    assert answer["failure"] == "AssertionError in thread 'Thread-2 (reader)': saw the intermediate state"
    assert answer["executions"] == 94 and answer["schedule"][0] == 93  # in iteration 1: one preemption
    assert line is None
    assert answers[1] == answers[0] and answers[2] == answers[0]


def test_dfs_split_between_workers_finds_a_failure_past_the_iterations_where_units_change_hands():
    answers = _dfs_answers(programs.seen_twice, 2000)
    (answer, line) = answers[0]
    assert answer["failure"] == "AssertionError in thread 'Thread-2 (reader)': saw both steps"
    assert answer["executions"] == 209 and answer["schedule"][0] == 208  # in iteration 2: two preemptions
    assert answers[1] == answers[0] and answers[2] == answers[0]


def test_dfs_split_between_workers_counts_the_budget_in_one_workers_order():
    answers = _dfs_answers(programs.locked_counter, 300)
    assert answers[0][0]["ok"] and answers[0][0]["executions"] == 300
    assert answers[0][1] == ("300 schedules with at most 2 preemption(s) explored (DFS) of about 5.07e+29 "
                             "estimated (0.0%); the budget ran out first")
    assert answers[1] == answers[0] and answers[2] == answers[0]


def test_dfs_split_between_workers_says_every_schedule_was_run():
    answers = _dfs_answers(programs.locked_counter, 1000, workers=(1, 2), max_preemptions=1)
    assert answers[0][0]["exhausted"] and answers[0][0]["executions"] == 263
    assert answers[0][1] == "all 263 schedules with at most 1 preemption(s) explored (DFS), no failure"
    assert answers[1] == answers[0]


def test_dfs_shares_merged_by_position_are_one_walk():
    """In one process: each share of the tree walked alone, its executions put in order by their positions,
    is the walk of one instance (the positions ascend in it), and the shares are about even."""
    from interlace.drivers.session import DEFAULT_MAX_STEPS, Session
    from interlace.strategies import DFS

    def walk(share):
        dfs = DFS(1, max_preemptions=1)
        dfs.claim = None if share is None else (lambda it, unit, w=share[0]: unit % 3 == w)
        ran = []
        with Session(programs.locked_counter, (), (), races="off", replayable=True) as session:
            while dfs.begin(len(ran)):
                ex = session.run(dfs, "free-threaded", DEFAULT_MAX_STEPS)
                ran.append((dfs.position, ex.choices, dfs.estimates[-1]))
        return ran

    one = walk(None)
    assert len(one) == 263 and [p for p, _, _ in one] == sorted(p for p, _, _ in one)
    assert one[0][0] == (0, -1, 0) and one[-1][0][0] == 1
    shares = [walk((w, 3)) for w in range(3)]
    assert [len(share) for share in shares] == [89, 89, 87]  # the first execution in each
    assert sorted({p: (p, c, e) for share in shares for p, c, e in share}.values()) == one


def test_dfs_units_that_change_hands_between_iterations_are_caught_up_and_still_one_walk():
    """Claims as the shared counter may make them: each unit walked by one instance in one iteration
    and by the other in the next. The instance that takes a unit over first walks it again through
    the iterations it missed (unreported), and the shares merged by position are one walk."""
    from interlace.drivers.session import DEFAULT_MAX_STEPS, Session
    from interlace.strategies import DFS

    def walk(w):
        dfs = DFS(1, max_preemptions=2)
        if w is not None:
            dfs.claim = lambda iteration, unit: (iteration + unit) % 2 == w
        ran, caught_up = [], 0
        with Session(programs.two_steps, (), (), races="off", replayable=True) as session:
            while dfs.begin(len(ran)):
                again = dfs.catching_up is not None
                ex = session.run(dfs, "free-threaded", DEFAULT_MAX_STEPS)
                if again:
                    caught_up += 1
                else:
                    ran.append((dfs.position, ex.choices, dfs.estimates[-1]))
        return ran, caught_up

    one, none = walk(None)
    assert len(one) == 324 and none == 0 and one[-1][0][0] == 2
    shares = [walk(w) for w in range(2)]
    assert [len(share) for share, _ in shares] == [169, 156]  # the first execution in each
    assert [caught_up for _, caught_up in shares] == [16, 12]
    assert sorted({p: (p, c, e) for share, _ in shares for p, c, e in share}.values()) == one


def test_workers_past_the_first_failure_stop_at_once():
    started = time.perf_counter()
    result = interlace.explore(programs.intermediate_state, executions=1_000_000, seed=4, strategy="random",
                               workers=2)
    assert result.executions == 7
    assert time.perf_counter() - started < 30  # not a million executions


def test_a_function_workers_cannot_import_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"exploring with workers runs <function .*<lambda>.* in fresh worker "
                                         r"processes, which import it by its qualified name"):
        interlace.explore(lambda: None, executions=2, workers=2)


def test_worker_counts():
    assert worker_count("auto") >= 1
    assert worker_count("3") == 3
    with pytest.raises(ValueError, match="workers must be a positive number or 'auto', not 0"):
        worker_count(0)


PROGRAM = os.path.join(os.path.dirname(__file__), "workers_script.py")


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "interlace", *args], capture_output=True, text=True,
                          timeout=120, **kw)


def test_the_command_line_reports_the_same_failure_with_workers(tmp_path):
    outputs = []
    for workers in ("1", "2"):
        done = _cli("explore", PROGRAM, "--seed", "2", "--workers", workers, "-o", str(tmp_path / f"{workers}.json"),
                    cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        outputs.append((tmp_path / f"{workers}.json").read_text())
    assert outputs[0] == outputs[1]
    assert '"execution": 3' in outputs[0]  # the default portfolio's second DPOR execution


def test_the_command_line_refuses_a_bad_worker_count(tmp_path):
    done = _cli("explore", PROGRAM, "--workers", "none", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "interlace: --workers takes a number of worker processes (at least 1) or 'auto', " \
                          "not 'none'.\n"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a process")
def test_ctrl_c_stops_the_workers_within_a_second(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "interlace", "explore", PROGRAM, "--seed", "2", "--strategy",
                             "random", "--workers", "2", "-n", "1000000", "--", "--correct"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(4)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    started = time.perf_counter()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.perf_counter() - started < 3.0  # the coordinator polls every 50 ms; the rest is load
    assert "interrupted after" in err


def test_a_function_a_worker_cannot_import_stops_the_exploration_with_the_reason(monkeypatch):
    import types

    from interlace.drivers.workers import WorkerError

    ghost = types.ModuleType("interlace_ghost_module")  # importable here only: in sys.modules, not on the path

    def program():
        pass

    program.__module__, program.__qualname__ = ghost.__name__, "program"
    ghost.program = program
    monkeypatch.setitem(sys.modules, ghost.__name__, ghost)
    with pytest.raises(WorkerError, match=r"(?s)a worker process failed:.*No module named 'interlace_ghost_module'"):
        interlace.explore(program, executions=10, workers=2)


def _claims(strategy, executions, n):
    """Every worker's indexes, the workers taking turns (a Claims each, one shared counter)."""
    import multiprocessing

    from interlace.drivers.workers import Claims

    taken = multiprocessing.get_context("spawn").Value("q", 0)
    claims = [Claims(interlace.strategies.make_strategy(strategy, 1), executions, w, n, taken) for w in range(n)]
    shares = [[] for _ in range(n)]
    turns = [0, 0, 1, 0, 1, 1, 1, 2, 2, 0, 2] * executions  # uneven: several in a row, as under load
    ended = set()
    for w in turns:
        w %= n
        if w not in ended:
            index = claims[w].next()
            if index is None:
                ended.add(w)
            else:
                shares[w].append(index)
        if len(ended) == n:
            break
    return shares


def test_a_chain_goes_to_one_worker_and_the_other_indexes_to_whoever_takes_them_first():
    shares = _claims("portfolio", 40, 3)
    assert shares == [[0, 1, 3, 6, 9, 12, 14, 15, 18, 21, 24, 27, 30, 33, 36, 39],  # the DPOR chain: worker 0
                      [2, 4, 5, 7, 13, 16, 17, 19, 25, 26, 28, 29, 35, 37, 38],
                      [8, 10, 11, 20, 22, 23, 31, 32, 34]]
    assert sorted(shares[0] + shares[1] + shares[2]) == list(range(40))  # each index once
    assert all(share == sorted(share) for share in shares)  # ascending: a worker past the limit is done
    two = _claims("portfolio", 40, 2)
    assert sorted(two[0] + two[1]) == list(range(40))
    assert [i for i in two[1] if i % 3 == 0] == []
    assert _claims("pct", 10, 2) == [[0, 1, 3, 7, 8, 9], [2, 4, 5, 6]]  # no chain: the turns alone decide


def test_the_dpor_chain_runs_once_in_all_not_once_per_worker():
    """Counted by what the workers report: the executions each ran only because another required it."""
    import functools

    from interlace.drivers.explore import strategy_for
    from interlace.drivers.session import DEFAULT_MAX_STEPS
    from interlace.drivers.workers import Job, LaneEnd, LocalWorkers, job_bytes
    from interlace.runtime.watchdog import STUCK_AFTER

    recipe = functools.partial(strategy_for, "portfolio", 5, 3, None)
    job = Job(programs.locked_counter, recipe, 60, "free-threaded", DEFAULT_MAX_STEPS, (), (), STUCK_AFTER, "error",
              (), None)
    backend = LocalWorkers(job_bytes(job), 2)
    ends = []
    try:
        while backend.busy():
            ends += [item for item in backend.poll(0.05) if isinstance(item, LaneEnd)]
    finally:
        backend.close()
    assert len(ends) == 2
    assert sum(end.executions for end in ends) == 60  # each index reported once
    strategy = recipe()
    calibrations = {j for i in range(60) if i % 3 for j in strategy.requires(i)}
    # the first 8 turns of the three PCT members (POS learns nothing): 1 is PCT depth 3's first, 2 PCT depth 2's
    assert calibrations == {1, 2, 5, 7, 8, 11, 13, 14, 17, 19, 20, 23, 25, 26, 29, 31, 32, 35, 37, 38, 41, 43, 44, 47}
    for end in ends:
        assert set(end.unreported) <= calibrations  # no DPOR execution (a multiple of 3) run again
        assert len(set(end.unreported)) == len(end.unreported)


def test_dask_chunks_keep_a_chain_apart():
    from interlace.drivers.dask_backend import chunks

    assert chunks(interlace.strategies.make_strategy("portfolio", 1), 14, 3) == [
        (0, [0, 3, 6]), (None, [1, 2, 4]), (None, [5, 7, 8]), (0, [9, 12]), (None, [10, 11, 13])]
    assert chunks(interlace.strategies.make_strategy("pct", 1), 7, 3) == [(None, [0, 1, 2]), (None, [3, 4, 5]),
                                                                           (None, [6])]


def test_workers_keep_the_hang_guard_setting():
    """Worker processes run with the exploration's hang_guard: without the guard the 10 s timeouts of a
    correct handshake may end early, on any number of workers, and the failure is the same."""
    alone = interlace.explore(programs.guarded_handshake, executions=60, seed=1, hang_guard=None)
    shared = interlace.explore(programs.guarded_handshake, executions=60, seed=1, hang_guard=None, workers=2)
    assert not alone.ok and not shared.ok
    assert (shared.schedule.execution, shared.failure.message) == (alone.schedule.execution, alone.failure.message)
    assert shared.schedule.hang_guard is None
    assert interlace.explore(programs.guarded_handshake, executions=60, seed=1, workers=2).ok
