"""asyncio under interlace: every task is a unit of the scheduler (runtime/eventloop.py).

The order of ready tasks is explored, timers run on the virtual clock, tasks and threads share one
scheduler, deadlocks between tasks and races between tasks are reported like those of threads, and
the examples are found, shrunk and replayed from the command line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
import weakref

import pytest

import interlace

pytestmark = pytest.mark.timeout(240)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
CACHE = os.path.join(EXAMPLES, "async_cache.py")
CACHE_LOCKED = os.path.join(EXAMPLES, "async_cache_locked.py")
THREAD_RACE = os.path.join(EXAMPLES, "async_thread_race.py")


def cli(*args, cwd=None, timeout=120):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "interlace", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


# -- programs ------------------------------------------------------------------------------------------


def check_then_act():
    """Two requests for one key: the second checks while the first awaits its load (a lost check)."""
    cache, loads = {}, []

    async def get(key):
        if key not in cache:
            loads.append(key)
            await asyncio.sleep(0)
            cache[key] = key.upper()
        return cache[key]

    async def late(key):
        await asyncio.sleep(0)
        return await get(key)

    async def main():
        await asyncio.gather(get("a"), late("a"))
        assert len(loads) == 1, f"loaded {len(loads)} times"

    asyncio.run(main())


def locked_increments():
    counter = [0]

    async def bump(lock):
        async with lock:
            value = counter[0]
            await asyncio.sleep(0)
            counter[0] = value + 1

    async def main():
        lock = asyncio.Lock()
        await asyncio.gather(bump(lock), bump(lock))
        assert counter[0] == 2

    asyncio.run(main())


clock_readings: list = []


def long_sleep():
    async def main():
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(0.3)
        await asyncio.sleep(2.5)
        clock_readings.append((round(loop.time() - start, 9), round(time.monotonic() - 1000.0, 9)))

    asyncio.run(main())


semantics_log: list = []


def primitives():
    """What the real loop does with timeouts, groups, cancellation, synchronisation and threads."""
    log = semantics_log

    async def main():
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(asyncio.sleep(10), 1.0)
        except asyncio.TimeoutError:
            log.append("wait_for timed out")
        if hasattr(asyncio, "timeout"):
            try:
                async with asyncio.timeout(0.5):
                    await asyncio.sleep(5)
            except TimeoutError:
                log.append("timeout")
        if hasattr(asyncio, "TaskGroup"):
            async with asyncio.TaskGroup() as group:
                children = [group.create_task(asyncio.sleep(n / 10, result=n)) for n in range(3)]
            log.append(("group", [c.result() for c in children]))
        sleeper = asyncio.create_task(asyncio.sleep(100))
        await asyncio.sleep(0)
        sleeper.cancel()
        try:
            await sleeper
        except asyncio.CancelledError:
            log.append("cancelled")
        event = asyncio.Event()
        loop.call_later(0.1, event.set)
        await event.wait()
        condition, ready = asyncio.Condition(), []

        async def waiter():
            async with condition:
                await condition.wait_for(lambda: ready)
                return ready[0]

        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        async with condition:
            ready.append(7)
            condition.notify_all()
        log.append(("condition", await waiting))
        semaphore, inside = asyncio.Semaphore(1), []

        async def critical(i):
            async with semaphore:
                inside.append(i)
                assert len(inside) == 1
                await asyncio.sleep(0.01)
                inside.remove(i)

        await asyncio.gather(*(critical(i) for i in range(3)))
        queue, got = asyncio.Queue(), []

        async def consumer():
            while (item := await queue.get()) is not None:
                got.append(item)
                queue.task_done()
            queue.task_done()

        consumers = [asyncio.create_task(consumer()) for _ in range(2)]
        for item in (1, 2, 3, None, None):
            await queue.put(item)
        await queue.join()
        await asyncio.gather(*consumers)
        log.append(("queue", sorted(got)))
        log.append(("to_thread", await asyncio.to_thread(lambda: threading.current_thread().name)))
        log.append(("executor", await loop.run_in_executor(None, sum, [1, 2, 3])))
        future = loop.create_future()
        threading.Thread(target=lambda: loop.call_soon_threadsafe(future.set_result, 5)).start()
        log.append(("threadsafe", await future))
        log.append(("clock", round(loop.time() - 1000.0, 6)))

    asyncio.run(main())


identities: list = []


def thread_identity_in_tasks():
    async def who():
        await asyncio.sleep(0)
        identities.append((threading.get_ident(), threading.get_native_id(), threading.current_thread().name))

    async def main():
        await asyncio.gather(who(), who())
        await who()

    asyncio.run(main())


def tasks_await_each_other():
    async def main():
        tasks = {}

        async def a():
            await asyncio.sleep(0)
            await tasks["b"]

        async def b():
            await asyncio.sleep(0)
            await tasks["a"]

        tasks["a"] = asyncio.create_task(a())
        tasks["b"] = asyncio.create_task(b())
        await asyncio.gather(tasks["a"], tasks["b"])

    asyncio.run(main())


def unresolved_future():
    async def main():
        await asyncio.get_running_loop().create_future()

    asyncio.run(main())


def task_and_thread():
    stats = {"requests": 0}

    def reset():
        count = stats["requests"]
        stats["requests"] = 0
        return count

    async def handle():
        stats["requests"] += 1

    async def main():
        reported = await asyncio.gather(asyncio.to_thread(reset), handle(), handle())
        assert reported[0] + stats["requests"] == 2, "a request was lost"

    asyncio.run(main())


def threadsafe_callback_and_task():
    """A thread's call_soon_threadsafe callback and a task write one key: either may run last."""
    state = {}

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def from_thread():
            loop.call_soon_threadsafe(state.__setitem__, "owner", "callback")
            loop.call_soon_threadsafe(done.set_result, None)

        async def task():
            await asyncio.sleep(0)
            state["owner"] = "task"

        threading.Thread(target=from_thread).start()
        await asyncio.gather(task(), done)
        assert state["owner"] == "task", "the callback ran last"

    asyncio.run(main())


def spin_until_timer():
    """A task polls with sleep(0) for what a timer does: the clock still reaches the timer."""
    async def main():
        flag = []
        asyncio.get_running_loop().call_later(5, flag.append, 1)
        while not flag:
            await asyncio.sleep(0)

    asyncio.run(main())


# -- the order of ready tasks -------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["random", "pct", "pos"])
def test_check_then_act_across_an_await_is_found_for_seeds_0_to_4(strategy):
    for seed in range(5):
        result = interlace.explore(check_then_act, executions=100, strategy=strategy, seed=seed)
        assert not result.ok, f"seed {seed}"
        assert result.failure.message.startswith("AssertionError in the main function: loaded 2 times")
        assert {"Task-1", "Task-2", "Task-3"} <= set(result.threads)


def test_the_failing_task_order_replays_exactly():
    result = interlace.explore(check_then_act, executions=100, strategy="random", seed=1)
    for _ in range(3):
        again = interlace.replay(check_then_act, result.schedule)
        assert again.divergence is None
        assert again.failure.message == result.failure.message
        assert [(e.tid, e.kind, e.what) for e in again.trace] == [(e.tid, e.kind, e.what) for e in result.trace]


def test_dpor_finds_the_race_and_proves_the_locked_version():
    found = interlace.explore(check_then_act, executions=1000, strategy="dpor", seed=0)
    assert not found.ok and found.executions == 1
    proof = interlace.explore(locked_increments, executions=1000, strategy="dpor", seed=0)
    assert proof.ok, proof.report()
    # the first task holds the lock across its sleep(0): the second's first step blocks on it, and the
    # loop's order leaves nothing else to choose
    assert proof.exhausted and proof.executions == 1
    assert proof.coverage_line() == "the only interleaving class explored (DPOR), no failure"
    assert not [r for r in proof.races if not r.suppressed], [r.summary() for r in proof.races]


def tasks_start_in_order():
    """Correct under asyncio's rule that callbacks run in the order they were scheduled."""
    order = []

    async def worker(tag):
        order.append(tag)
        await asyncio.sleep(0)
        order.append(tag.upper())

    async def main():
        asyncio.create_task(worker("a"))
        asyncio.create_task(worker("b"))
        await asyncio.sleep(0)  # the usual way to let the tasks just made start
        assert order[:2] == ["a", "b"], order
        await asyncio.sleep(0.1)
        assert sorted(order[2:]) == ["A", "B"], order

    asyncio.run(main())


@pytest.mark.parametrize("strategy", ["dpor", "pct", "random", "pos"])
def test_the_loop_keeps_asyncios_order_but_a_step_after_a_sleep_may_come_later(strategy):
    """Two tasks made in a row start in that order before the maker goes on after ``sleep(0)``
    (before, the first execution of every strategy ran the maker first); their steps after
    ``sleep(0)`` may run in either order."""
    result = interlace.explore(tasks_start_in_order, executions=50, strategy=strategy, seed=0, races="off")
    assert result.ok, result.report()
    orders = set()

    def record():
        order = []

        async def worker(tag):
            await asyncio.sleep(0)
            order.append(tag)

        async def main():
            await asyncio.gather(worker("a"), worker("b"))
            orders.add(tuple(order))

        asyncio.run(main())

    assert interlace.explore(record, executions=50, strategy=strategy, seed=0, races="off").ok
    assert orders == {("a", "b"), ("b", "a")}


@pytest.mark.parametrize("strategy", ["dpor", "pct", "random"])
def test_tasks_woken_by_timers_keep_the_order_of_the_deadlines(strategy):
    """Two tasks that each sleep 10 us between tries alternate on a real loop (tenacity's
    ``test_attempt_number_is_correct_for_interleaved_coroutines`` counts on it): a wake-up by a timer
    may come after other work, not after a timer due later."""
    seen = set()

    def program():
        order = []

        async def tries(tag):
            for _ in range(3):
                await asyncio.sleep(0.00001)
                order.append(tag)

        async def main():
            await asyncio.gather(tries("a"), tries("b"))
            seen.add("".join(order))

        asyncio.run(main())

    result = interlace.explore(program, executions=50, strategy=strategy, seed=0, races="off")
    assert result.ok and seen == {"ababab"}, seen


def test_a_finished_task_is_not_kept_alive():
    """The execution keeps no finished task (async-lru's tests collect one to see "Task exception was
    never retrieved" logged, or to see that what its frames held is freed)."""

    def program():
        async def boom():
            raise RuntimeError("boom")

        async def main():
            task = asyncio.get_running_loop().create_task(boom())
            await asyncio.sleep(0)
            assert isinstance(task.exception(), RuntimeError)
            ref = weakref.ref(task)
            del task
            gc.collect()
            assert ref() is None, "the finished task is kept alive"

        asyncio.run(main())

    result = interlace.explore(program, executions=5, seed=0)
    assert result.ok, result.report()


def test_the_same_seed_explores_the_same_task_orders():
    a = interlace.explore(check_then_act, executions=100, strategy="pct", seed=3)
    b = interlace.explore(check_then_act, executions=100, strategy="pct", seed=3)
    assert (a.executions, list(a.schedule.choices)) == (b.executions, list(b.schedule.choices))


# -- virtual time --------------------------------------------------------------------------------------


def test_sleeping_tasks_take_virtual_time_not_wall_time():
    clock_readings.clear()
    started = time.perf_counter()
    result = interlace.explore(long_sleep, executions=3, strategy="random", seed=0)
    assert result.ok, result.report()
    assert clock_readings == [(2.8, 2.8)] * 3
    assert time.perf_counter() - started < 2.8  # three runs of 2.8 virtual seconds


def test_a_task_polling_for_a_timer_ends():
    result = interlace.explore(spin_until_timer, executions=2, strategy="random", seed=0)
    assert result.ok, result.report()


async def _two_pollers() -> None:
    """A client asks, then polls with ``sleep(0)`` under a 1 s ``wait_for`` (a hang guard) for the
    answer of a server that polls for the question the same way (asgiref's UDP server test)."""
    box = {"question": False, "answer": False}

    async def until(key: str) -> None:
        while not box[key]:
            await asyncio.sleep(0)

    async def server() -> None:
        await until("question")
        box["answer"] = True

    async def client() -> None:
        box["question"] = True
        await asyncio.wait_for(until("answer"), timeout=1.0)

    await asyncio.gather(server(), client())


@pytest.mark.parametrize("strategy", ["dpor", "portfolio", "pct"])
def test_a_task_polling_with_sleep_0_does_not_starve_another_poller(strategy):
    """In asyncio both pollers take turns. A task the loop chose again had its run length reset, as if
    it had just been switched to: DPOR's fair default (and PCT's spin limit) never moved on from it,
    the server never ran, and the hang guard timed out after 1,000 turns without progress."""
    for seed in range(5):
        result = interlace.explore(lambda: asyncio.run(_two_pollers()), executions=20, strategy=strategy,
                                   seed=seed)
        assert result.ok, result.report()


async def _long_work_beside_a_ticker() -> int:
    """20,000 steps of work (each a write, then ``sleep(0)``) under a 1 s ``wait_for``, beside a task
    that wakes every 0.1 s: a real loop does the work in a few hundredths of a second."""
    box = {"n": 0, "ticks": 0}

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.1)
            box["ticks"] += 1

    async def work() -> None:
        for _ in range(20_000):
            box["n"] += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    await asyncio.wait_for(work(), timeout=1.0)
    ticking.cancel()
    return box["ticks"]


def test_a_busy_loop_lets_the_clock_count_its_work_not_jump_to_each_timer():
    """The clock jumped to the soonest timer after every 1,000 busy turns, with or without progress:
    ten of the ticker's 0.1 s timers, and the 1 s timeout was due in the middle of the work."""
    ticks = []
    result = interlace.explore(lambda: ticks.append(asyncio.run(_long_work_beside_a_ticker())), executions=1,
                               strategy="random", seed=0)
    assert result.ok, result.report()
    # 20,000 turns of work: 0.19 virtual seconds (WORK_STEP per turn), one tick (a replay of the
    # execution for the stacks of a race runs it again)
    assert set(ticks) == {1}


@pytest.mark.parametrize("strategy", ["random", "pct", "dfs", "dpor", "pos"])
def test_asyncio_primitives_behave_as_under_the_real_loop(strategy, recwarn):
    semantics_log.clear()
    result = interlace.explore(primitives, executions=4, strategy=strategy, seed=1)
    assert result.ok, result.report()
    # asyncio.run waits for its executor's threads: its 300 s hang guard (3.12+) is never ended early
    assert [str(w.message) for w in recwarn if issubclass(w.category, RuntimeWarning)] == []
    expected = ["wait_for timed out"]
    expected += ["timeout"] if sys.version_info >= (3, 11) else []
    expected += [("group", [0, 1, 2])] if sys.version_info >= (3, 11) else []
    expected += ["cancelled", ("condition", 7), ("queue", [1, 2, 3]), ("to_thread", "asyncio_0"),
                 ("executor", 6), ("threadsafe", 5)]
    runs = [semantics_log[i:i + len(expected) + 1] for i in range(0, len(semantics_log), len(expected) + 1)]
    assert len(runs) == result.executions
    for run in runs:
        assert run[:-1] == expected
        assert run[-1][0] == "clock"
    # every run waited the same virtual time: 1.0 (wait_for) + 0.5 (timeout) + 0.2 (the group) + 0.1
    # (the event) + 3 x 0.01 (the semaphore)
    assert {run[-1][1] for run in runs} == {1.83 if sys.version_info >= (3, 11) else 1.13}
    assert not [r.summary() for r in result.races if not r.suppressed]


def test_tasks_see_the_identity_of_their_loop_s_thread():
    identities.clear()
    result = interlace.explore(thread_identity_in_tasks, executions=1, seed=0)
    assert result.ok, result.report()
    assert identities == [(0x7F0000000000, 100_000, "MainThread")] * 3


# -- deadlocks and races -------------------------------------------------------------------------------


def test_tasks_awaiting_each_other_are_a_deadlock():
    result = interlace.explore(tasks_await_each_other, executions=5, seed=0)
    assert result.failure.kind == "deadlock"
    assert result.failure.message == "deadlock: 'Task-2' waits for task 'Task-3' -> 'Task-3' waits for task 'Task-2'"
    details = "\n".join(result.failure.details)
    assert "task 'Task-2' waits for task 'Task-3'; holds nothing" in details
    assert 'in b\n    await tasks["a"]' in details
    assert "task 'Task-1' waits for a pending _GatheringFuture" in details


def test_a_future_nobody_resolves_is_a_deadlock():
    result = interlace.explore(unresolved_future, executions=5, seed=0)
    assert result.failure.kind == "deadlock"
    assert result.failure.message == "deadlock: every live thread and task is blocked ('MainThread', 'Task-1')"
    assert result.failure.details[1].startswith("task 'Task-1' waits for a pending Future; holds nothing\n")


def test_races_between_tasks_are_notes_with_both_stacks():
    result = interlace.explore(check_then_act, executions=100, strategy="random", seed=1)
    race = next(r for r in result.races if r.what == "dict['a']")
    assert race.note and race.current.task and race.previous.task
    text = race.format()
    assert "by task 'Task-" in text
    assert text.endswith("Between steps of one event loop: the order depends on which task's await completes "
                         "first (a timer, I/O, another thread), whatever the interpreter.")


def test_a_task_and_a_worker_thread_racing_on_one_dict_are_found():
    result = interlace.explore(task_and_thread, executions=200, strategy="random", seed=0)
    assert not result.ok
    assert result.failure.message.startswith("AssertionError in the main function: a request was lost")
    lost = [r for r in result.races if r.violation == "lost update"]
    assert lost and {r.current.task for r in lost} | {r.previous.task for r in lost} == {True, False}


def test_a_threadsafe_callback_and_a_task_are_ordered_by_the_strategy():
    outcomes = set()
    for seed in range(20):  # one execution each: some run the callback first, some last
        result = interlace.explore(threadsafe_callback_and_task, executions=1, strategy="random", seed=seed)
        outcomes.add(result.ok)
        if not result.ok:
            assert result.failure.message.startswith("AssertionError in the main function: the callback ran last")
            again = interlace.replay(threadsafe_callback_and_task, result.schedule)
            assert again.failure.message == result.failure.message
    assert outcomes == {True, False}


# -- the examples from the command line -----------------------------------------------------------------


def test_cli_explore_finds_shrinks_and_replays_the_async_cache(tmp_path):
    out = cli("explore", CACHE, "--seed", "1", "--strategy", "random", "-o", "s.json", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Output of the failing execution:\n  | values: ['USER:1', 'USER:1'], backend loads: 2\n" in out.stdout
    assert "AssertionError in the main function: the backend was hit 2 times for one key" in out.stdout
    header = next(line for line in out.stdout.splitlines() if line.lstrip().startswith("step |"))
    assert [c.strip() for c in header.split("|")] == ["step", "MainThread", "Task-1", "Task-2", "Task-3"]
    assert "Schedule shrunk from" in out.stdout
    doc = json.loads((tmp_path / "s.json").read_text())
    for _ in range(2):
        rep = cli("replay", "s.json", cwd=tmp_path)
        assert rep.returncode == 1, rep.stderr
        assert rep.stdout == "values: ['USER:1', 'USER:1'], backend loads: 2\n"
    assert doc["seed"] == 1


def test_cli_dpor_proves_the_locked_async_cache(tmp_path):
    out = cli("explore", CACHE_LOCKED, "--strategy", "dpor", "-n", "100000", "--seed", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    # (the tasks' steps keep the loop's order but for the two after ``sleep(0)``, which may swap: the
    # lock's internals are asyncio's, so the swapped steps touch nothing of the program in common)
    assert out.stdout.splitlines()[-1] == "the only interleaving class explored (DPOR), no failure"
    assert "DATA RACE" not in out.stdout and "NOTE" not in out.stdout


def test_cli_finds_the_task_and_thread_race(tmp_path):
    out = cli("explore", THREAD_RACE, "--seed", "1", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "request(s) lost" in out.stdout
    assert "DATA RACE (lost update) on dict['requests']" in out.stdout
    assert "by thread 'asyncio_0'" in out.stdout and "task 'Task-" in out.stdout


def test_html_timeline_has_a_lane_per_task(tmp_path):
    out = cli("explore", CACHE, "--seed", "1", "--strategy", "random", "--html", "t.html", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    page = (tmp_path / "t.html").read_text()
    for lane in ("MainThread", "Task-1", "Task-2", "Task-3"):
        assert lane in page


def test_interlace_run_records_and_replays_an_asyncio_program(tmp_path):
    out = cli("run", "--record", "r.ilr", "--keep", "all", "--seed", "2", "--strategy", "random", THREAD_RACE,
              cwd=tmp_path)
    assert out.stdout.startswith("reported ["), out.stderr
    rep = cli("replay", "r.ilr", cwd=tmp_path)
    assert rep.stdout == out.stdout
    assert "same output, outcome" in rep.stderr, rep.stderr


def test_pytest_plugin_explores_async_def_tests(tmp_path):
    (tmp_path / "test_a.py").write_text(
        "import asyncio\n\n"
        "async def test_cache():\n"
        "    cache, loads = {}, []\n"
        "    async def get(key):\n"
        "        if key not in cache:\n"
        "            loads.append(key)\n"
        "            await asyncio.sleep(0)\n"
        "            cache[key] = 1\n"
        "    async def late(key):\n"
        "        await asyncio.sleep(0)\n"
        "        await get(key)\n"
        "    await asyncio.gather(get('a'), late('a'))\n"
        "    assert len(loads) == 1\n\n"
        "async def test_sleeps(tmp_path):\n"
        "    await asyncio.sleep(30)\n"
        "    assert tmp_path.exists()\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio",
                          "--interlace", "--interlace-seed", "1", "test_a.py"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert "1 failed, 1 passed" in out.stdout, out.stdout + out.stderr
    assert "FAILED test_a.py::test_cache - interlace: AssertionError in the main" in out.stdout


def test_pytest_plugin_explores_pytest_asyncio_tests(tmp_path):
    pytest.importorskip("pytest_asyncio")
    (tmp_path / "test_b.py").write_text(
        "import asyncio\nimport pytest\n\n"
        "@pytest.mark.asyncio\n"
        "async def test_counter():\n"
        "    state = {'n': 0}\n"
        "    async def bump():\n"
        "        value = state['n']\n"
        "        await asyncio.sleep(0)\n"
        "        state['n'] = value + 1\n"
        "    await asyncio.gather(bump(), bump())\n"
        "    assert state['n'] == 2\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--interlace",
                          "--interlace-seed", "1", "-o", "asyncio_default_fixture_loop_scope=function", "test_b.py"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert "1 failed" in out.stdout, out.stdout + out.stderr
    assert "FAILED test_b.py::test_counter - interlace: AssertionError in the main" in out.stdout


def test_pytest_plugin_explores_anyio_tests(tmp_path):
    pytest.importorskip("anyio")
    (tmp_path / "test_c.py").write_text(
        "import anyio\nimport pytest\n\n"
        "@pytest.fixture\n"
        "def anyio_backend():\n"
        "    return 'asyncio'\n\n"
        "@pytest.mark.anyio\n"
        "async def test_cache():\n"
        "    cache, loads = {}, []\n"
        "    async def get(key):\n"
        "        if key not in cache:\n"
        "            loads.append(key)\n"
        "            await anyio.sleep(0)\n"
        "            cache[key] = 1\n"
        "    async def late(key):\n"
        "        await anyio.sleep(0)\n"
        "        await get(key)\n"
        "    async with anyio.create_task_group() as group:\n"
        "        group.start_soon(get, 'a')\n"
        "        group.start_soon(late, 'a')\n"
        "    assert len(loads) == 1\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    plain = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_c.py"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert "1 passed" in plain.stdout, plain.stdout + plain.stderr
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--interlace",
                          "--interlace-seed", "1", "test_c.py"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert "1 failed" in out.stdout, out.stdout + out.stderr
    assert "FAILED test_c.py::test_cache - interlace: AssertionError in the main" in out.stdout


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in Python 3.11")
def test_a_timeout_made_by_a_task_that_polled_the_clock_is_still_a_hang_guard(monkeypatch):
    """``asyncio.timeout(1)`` reads the clock for its deadline, then again before making its timer: two
    reads with no scheduling point between them are one look at the clock. A task that had polled the
    clock (read it at every step while the others worked) saw the others' work counted between those
    two reads: its timer was made 0.992 s ahead, taken for an explorable timer, and ended early
    (asgiref's ``wait(timeout=1)``: 6 of its wsgi tests failed with a TimeoutError)."""
    from interlace.runtime import eventloop

    delays = []
    guard_timer = eventloop._guard_timer

    def recording(ex, callback, delay):
        delays.append(delay)
        return guard_timer(ex, callback, delay)

    monkeypatch.setattr(eventloop, "_guard_timer", recording)

    async def poller(ev):
        loop = asyncio.get_running_loop()
        for _ in range(6):
            loop.time()
            await asyncio.sleep(0)
        async with asyncio.timeout(1):
            await ev.wait()

    async def worker(ev, box):
        for _ in range(300):
            box["n"] += 1
            await asyncio.sleep(0)
        await asyncio.to_thread(box.clear)
        ev.set()

    async def main():
        ev = asyncio.Event()
        await asyncio.gather(poller(ev), worker(ev, {"n": 0}))

    result = interlace.explore(lambda: asyncio.run(main()), executions=20, strategy="pct", seed=1, races="off")
    assert result.ok, result.failure
    assert set(delays) == {1.0}


def test_a_task_yielding_between_steps_of_its_own_work_does_not_expire_a_hang_guard():
    """5,000 turns of a task whose work is its own (nothing shared: no progress for the scheduler) are
    milliseconds of real time: another task's 1 s ``wait_for`` on it is a hang guard, not due after a
    thousand turns (it was, at 3,000: a false TimeoutError). A task that spins for good still ends
    the wait: the guard is due after GUARD_PATIENCE turns without progress."""
    async def work(n):
        total = 0
        for i in range(n):
            total += i
            await asyncio.sleep(0)
        return total

    async def spin():
        while True:
            await asyncio.sleep(0)

    async def main():
        assert await asyncio.wait_for(work(5000), 1) == sum(range(5000))
        try:
            await asyncio.wait_for(spin(), 1)
        except asyncio.TimeoutError:
            return "spin timed out"

    result = interlace.explore(lambda: asyncio.run(main()), executions=3, strategy="pct", seed=1, races="off")
    assert result.ok, result.failure
    assert result.executions == 3

