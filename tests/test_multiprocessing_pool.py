"""A thread blocked inside ``multiprocessing`` (a pipe to another process, a process-shared lock): the
report names the primitive and what to do instead of the generic "stuck outside interlace's control".

A ``Pool``'s or a ``ProcessPoolExecutor``'s own threads block there even in a correct program (their
peers are other processes, which no scheduler of this one orders, and the primitives block in C with the
baton held); see docs/design.md, "multiprocessing". Here the same waits are made without a process, so
that each test is stuck in its first execution, after the stuck timeout.
"""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)


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
        "(multiprocessing.connection.Connection): what it waits for comes from another process, which "
        "interlace does not schedule, and it blocks in C while the other threads wait for it")
    assert "make the pool outside the explored code" in result.failure.message


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


def test_a_thread_stuck_elsewhere_keeps_the_general_message():
    r, w = os.pipe()
    try:
        result = stuck_in_a_thread(lambda: os.readv(r, [bytearray(1)]), "raw")
    finally:
        os.write(w, b"x")  # the abandoned reader returns and ends
    assert result.failure.kind == "stuck"
    assert result.failure.message.startswith("thread 'raw' is stuck outside interlace's control")
