"""Process pools made inside the explored code, and threads blocked inside ``multiprocessing``.

A ``multiprocessing.Pool`` (fork and spawn) or a ``ProcessPoolExecutor`` made by the code under test runs
outside the scheduler (runtime/outside.py): its threads are real, unmanaged ones, and a managed thread's
call into it holds the baton until the other processes answer. So a correct program passes, makes the same
decisions whatever the machine's load, and a race between the program's own threads next to the pool is
still found and replays. A thread that blocks inside ``multiprocessing`` on something no other process will
ever answer is reported "stuck" with the primitive named (see docs/design.md, "multiprocessing"); the
last three tests make such waits without a process, so that each is stuck in its first execution.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import re
import threading
import time

import pytest
import test_pytest_plugin

import interlace

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.timeout(60)


def square(x: int) -> int:
    return x * x


def one(_: int) -> int:
    return 1


def decisions(fn, executions: int, **options) -> tuple[interlace.Result, list[tuple[int, tuple]]]:
    """Explore ``fn`` and keep each execution's scheduling points and decisions."""
    seen: list[tuple[int, tuple]] = []
    result = interlace.explore(fn, executions=executions, seed=7, strategy="random",
                               on_execution=lambda index, ex: seen.append((ex.step, tuple(ex.choices))),
                               **options)
    return result, seen


def pool_forms(method: str):
    """A correct program: two threads wait for a pool's answers, then the pool's whole API."""

    def main():
        ctx = multiprocessing.get_context(method)
        with ctx.Pool(2) as pool:
            got = []

            def ask(i):
                got.append(pool.apply_async(square, (i,)).get())
                got.append(sum(pool.imap(square, range(3))))

            threads = [threading.Thread(target=ask, args=(i,)) for i in (1, 2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(got) == [1, 4, 5, 5]
            assert pool.map(square, range(6)) == [0, 1, 4, 9, 16, 25]
            assert sorted(pool.imap_unordered(square, range(3))) == [0, 1, 4]
        pool = ctx.Pool(1)
        assert pool.apply(square, (3,)) == 9
        pool.close()
        pool.join()

    return main


def test_a_fork_pool_made_in_the_explored_code_passes_with_the_same_decisions_twice():
    first, steps = decisions(pool_forms("fork"), 6)
    assert first.ok and first.executions == 6 and first.failure is None and first.races == []
    again, steps_again = decisions(pool_forms("fork"), 6)
    assert again.ok and steps_again == steps
    assert len({choices for _, choices in steps}) > 1  # the program's two threads were interleaved


def test_a_spawn_pool_made_in_the_explored_code_passes_with_the_same_decisions_twice():
    def main():
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            assert pool.map(square, range(4)) == [0, 1, 4, 9]
            assert pool.apply_async(square, (5,)).get() == 25

    first, steps = decisions(main, 2)
    again, steps_again = decisions(main, 2)
    assert first.ok and first.executions == 2 and again.ok and steps_again == steps


def test_a_process_pool_executor_made_in_the_explored_code_passes_with_the_same_decisions_twice():
    def main():
        with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as executor:
            got = []

            def ask(i):
                got.append(executor.submit(square, i).result())

            threads = [threading.Thread(target=ask, args=(i,)) for i in (1, 2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(got) == [1, 4]
            assert list(executor.map(square, range(4))) == [0, 1, 4, 9]
            futures = [executor.submit(square, i) for i in range(3)]
            assert sorted(f.result() for f in cf.as_completed(futures)) == [0, 1, 4]
            done, not_done = cf.wait(futures)
            assert len(done) == 3 and not not_done

    first, steps = decisions(main, 6)
    assert first.ok and first.executions == 6 and first.races == []
    again, steps_again = decisions(main, 6)
    assert again.ok and steps_again == steps


TOTAL = 0


def add_answer(pool) -> None:
    global TOTAL
    TOTAL += pool.apply(one, (0,))


def lost_update_beside_a_pool():
    global TOTAL
    TOTAL = 0
    with multiprocessing.get_context("fork").Pool(2) as pool:
        threads = [threading.Thread(target=add_answer, args=(pool,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert TOTAL == 2, TOTAL


def test_a_lost_update_of_the_programs_threads_beside_a_pool_is_found_and_replays():
    result = interlace.explore(lost_update_beside_a_pool, executions=20, seed=3, strategy="random", races="off")
    assert result.failure.kind == "exception"
    assert result.failure.message == "AssertionError in the main function: 1\nassert 1 == 2"
    for _ in range(2):
        again = interlace.replay(lost_update_beside_a_pool, result.schedule, races="off")
        assert again.failure.kind == "exception" and again.failure.message == result.failure.message


def two_threads_ask_a_pool() -> None:
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = []
        threads = [threading.Thread(target=lambda i=i: got.append(pool.apply(square, (i,)))) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == [1, 4]


def test_a_pool_is_explored_on_workers_as_in_one_process():
    """A worker process is daemonic, and a daemonic process may not start a pool's processes: the worker
    clears the flag for itself."""
    alone = interlace.explore(two_threads_ask_a_pool, executions=6, seed=7, strategy="random")
    spread = interlace.explore(two_threads_ask_a_pool, executions=6, seed=7, strategy="random", workers=2)
    assert alone.ok and spread.ok and (alone.executions, spread.executions) == (6, 6)
    assert spread.failure is None and spread.races == alone.races == []


def test_the_pools_own_threads_are_not_the_programs():
    names: list[list[str]] = []

    def main():
        with multiprocessing.get_context("fork").Pool(1) as pool:
            t = threading.Thread(target=pool.apply, args=(square, (2,)), name="asker")
            t.start()
            assert pool.map(square, [1, 2]) == [1, 4]
            t.join()

    result = interlace.explore(main, executions=4, seed=1, strategy="random",
                               on_execution=lambda index, ex: names.append([t.name for t in ex.threads]))
    assert result.ok and result.races == [] and result.lock_inversions == []
    assert names == [["MainThread", "asker"]] * 4


def test_a_thread_pool_stays_under_the_scheduler():
    """``multiprocessing.pool.ThreadPool`` is made of threads: its workers are the program's, and a lost
    update in the function it maps is found as before."""
    from multiprocessing.pool import ThreadPool

    def main():
        count = [0]

        def bump(_):
            count[0] += 1

        with ThreadPool(2) as pool:
            pool.map(bump, range(2))
        assert count[0] == 2

    result = interlace.explore(main, executions=20, seed=1, strategy="random", races="off")
    assert result.failure.kind == "exception"
    assert result.failure.message == "AssertionError in the main function: assert 1 == 2"


def stuck_in_a_thread(target, name: str) -> interlace.Result:
    """Explore a main thread that runs ``target`` in a thread named ``name`` and joins it."""

    def main():
        t = threading.Thread(target=target, name=name)
        t.start()
        t.join()

    return interlace.explore(main, strategy="random", executions=3, races="off", shrink=False, stuck_timeout=0.5)


def test_a_thread_reading_a_pipe_from_another_process_is_named():
    reader, writer = multiprocessing.Pipe(duplex=False)

    def receive():
        try:
            reader.recv()
        except EOFError:  # the test closes the pipe once it is done
            pass

    try:
        result = stuck_in_a_thread(receive, "receiver")
    finally:
        writer.close()  # the abandoned receiver gets EOFError and ends
    assert result.failure.kind == "stuck"
    assert result.executions == 1
    assert result.failure.message.startswith(
        "thread 'receiver' is blocked in multiprocessing, reading a pipe from another process "
        "(multiprocessing.connection.Connection): what it waits for comes from another process, and a call "
        "into multiprocessing runs outside the scheduler, holding the baton until that process answers, so "
        "no other thread of the execution runs meanwhile. If the other process waits for a thread of this "
        "one (a multiprocessing Queue or Pipe between threads of one process, a Lock or Event between them "
        "while a child process is alive, a pool task that waits for one of them), use queue.Queue / "
        "threading's primitives between threads, or make the pool outside the explored code (a fixture, a "
        "module-level pool); if it is only slow, raise the stuck timeout")


def test_a_thread_taking_a_process_shared_lock_is_named():
    lock = multiprocessing.Lock()

    def take():
        with lock:
            pass

    lock.acquire()  # held by "another process": nothing in the execution releases it
    try:
        result = stuck_in_a_thread(take, "taker")
    finally:
        lock.release()
    assert result.failure.kind == "stuck"
    assert result.failure.message.startswith(
        "thread 'taker' is blocked in multiprocessing, taking a process-shared lock "
        "(multiprocessing.synchronize.SemLock): ")


def test_a_pool_that_does_not_answer_while_another_thread_waits_is_named():
    """The pool's answer holds the baton while it is awaited; one slower than the stuck timeout, with
    another thread of the execution alive, is reported stuck (raise the timeout if it is only slow)."""
    pools = []

    def main():
        pools.append(multiprocessing.get_context("fork").Pool(1))
        asker = threading.Thread(target=pools[0].apply, args=(time.sleep, (1,)), name="asker")
        asker.start()
        asker.join()

    try:
        result = interlace.explore(main, strategy="random", executions=3, races="off", shrink=False,
                                   stuck_timeout=0.3)
    finally:  # the abandoned asker gets its answer and ends (a terminated pool would leave it waiting)
        pools[0].close()
        pools[0].join()
    assert result.failure.kind == "stuck" and result.executions == 1
    assert result.failure.message.startswith(
        "thread 'asker' is blocked in multiprocessing, waiting for a pool's answer (AsyncResult.get/wait, "
        "Pool.apply/map): what it waits for comes from another process, and a call into multiprocessing runs "
        "outside the scheduler, holding the baton until that process answers")


def test_a_thread_stuck_elsewhere_keeps_the_general_message():
    r, w = os.pipe()
    try:
        result = stuck_in_a_thread(lambda: os.readv(r, [bytearray(1)]), "raw")
    finally:
        os.write(w, b"x")  # the abandoned reader returns and ends
    assert result.failure.kind == "stuck"
    assert result.failure.message.startswith("thread 'raw' is stuck outside interlace's control")


PLUGIN_TESTS = '''
import multiprocessing
import threading


def square(x):
    return x * x


def test_pool_and_threads():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = []
        threads = [threading.Thread(target=lambda i=i: got.append(pool.apply(square, (i,)))) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == [1, 4]
        assert pool.map(square, range(3)) == [0, 1, 4]
'''


inner_pytester = test_pytest_plugin.inner  # pytester running the plugin as installed (a fixture)


def test_a_pool_in_a_test_passes_under_the_pytest_plugin_with_the_same_summary_twice(inner_pytester):
    inner_pytester.makepyfile(test_pools=PLUGIN_TESTS)
    lines = []
    for _ in range(2):
        result = test_pytest_plugin.run(inner_pytester, "--interlace", "--interlace-executions", "5",
                                        "--interlace-seed", "1")
        result.assert_outcomes(passed=1)
        line = test_pytest_plugin.summary_lines(result)["test_pools.py::test_pool_and_threads"]
        lines.append(re.sub(r"\d+\.\d+s", "<time>", line))
    assert lines[0] == lines[1]
    assert lines[0].startswith("test_pools.py::test_pool_and_threads: 5 executions, ") and lines[0].endswith("[ok]")


RECORDED_POOL = """
    import multiprocessing, os, threading

    def square(x):
        return x * x

    if __name__ == "__main__":
        with multiprocessing.get_context("fork").Pool(2) as pool:
            got = []
            threads = [threading.Thread(target=lambda i=i: got.append(pool.apply(square, (i,)))) for i in (1, 2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(sorted(got), pool.map(square, range(4)), os.getpid() > 0)
"""


def test_a_recorded_run_with_a_fork_pool_replays(tmp_path):
    """Each forked worker ends with ``os._exit``, which in a recorded run used to write the recording's end
    (two children at once: the recording could not be read), and the pool's own ``os.getpid`` calls were
    recorded, so that the replay's ``Process.join`` saw a pid that was not its own."""
    import test_run

    prog = test_run.program(tmp_path, RECORDED_POOL)
    done = test_run.cli("run", "-q", "--keep", "all", "--record", "p.ilr", prog, cwd=str(tmp_path))
    assert (done.returncode, done.stdout) == (0, b"[1, 4] [0, 1, 4, 9] True\n"), done.stderr.decode()
    for _ in range(2):
        again = test_run.cli("replay", "-q", "p.ilr", cwd=str(tmp_path))
        assert (again.returncode, again.stdout, again.stderr) == (0, done.stdout, done.stderr)


def _child_exits(status: int) -> None:
    raise SystemExit(status)


def test_a_forked_process_ends_as_it_would_without_interlace():
    """A ``Process`` forked by a managed thread ends with ``os._exit(exitcode)`` in the child: it is the
    child's own end, not the program's. It was caught as an "exit" failure in the child, which then
    unwound into the caller's code (under pytest, the child went on running the test session:
    fasteners' 11 tests that start processes failed so, in 20 minutes)."""
    codes = []

    def program():
        child = multiprocessing.get_context("fork").Process(target=_child_exits, args=(7,))
        child.start()
        child.join(30)
        codes.append(child.exitcode)

    result = interlace.explore(program, executions=3, seed=0)
    assert result.ok, result.report()
    assert codes == [7, 7, 7]
