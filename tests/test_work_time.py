"""A polled clock counts the program's work: loops that run "for N seconds" while other threads work
end, after as many scheduling points as that much work takes (WORK_STEP each), the same on every run
of a seed; a program that only sleeps sees each sleep last exactly what it asked."""

from __future__ import annotations

import sys
import threading
import time

import pytest

import interlace
from interlace.runtime import execution

pytestmark = pytest.mark.timeout(120)


def _for_a_while(seconds, sleep, counts):
    def program():
        lock = threading.Lock()
        done = [0]

        def work():
            start = time.time()
            while time.time() - start <= seconds:
                if sleep:
                    time.sleep(sys.float_info.min)  # a nanosleep: the clock moves by nothing
                with lock:
                    done[0] += 1

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts.append(done[0])

    return program


@pytest.mark.parametrize("sleep", [True, False], ids=["tiny-sleeps", "no-sleep"])
def test_threads_that_run_for_a_while_end_after_that_much_work(sleep):
    counts: list[int] = []
    result = interlace.explore(_for_a_while(0.02, sleep, counts), executions=3, seed=1, strategy="pct")
    assert result.ok, result.report()
    again: list[int] = []
    interlace.explore(_for_a_while(0.02, sleep, again), executions=3, seed=1, strategy="pct")
    assert counts == again  # decided by the seed, not by the machine
    # 0.02 s of work is 2,000 points of WORK_STEP in all, shared by the three threads
    assert all(0 < n < 0.02 / execution.WORK_STEP for n in counts), counts


def test_a_program_that_only_sleeps_sees_exact_virtual_time():
    def program():
        start = time.monotonic()
        for _ in range(20):
            time.sleep(0.125)
            assert time.monotonic() - start == pytest.approx(0.125 * (_ + 1), abs=0)

    assert interlace.explore(program, executions=2, seed=1).ok
