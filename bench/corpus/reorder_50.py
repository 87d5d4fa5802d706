"""Reorder with 50 threads (after SCTBench's reorder_X_bad): 49 setters each store ``a = 1`` then
``b = -1``; a checker, started in the middle of them, asserts that it sees both stores or neither.

Witness: setter 17 stores ``a = 1``; the checker reads a (1) and b (0): the assertion fails. The
checker must run between two statements of one of 49 threads, and before any setter has finished:
once one has, ``b`` is -1 for good and every later read is consistent. With 50 threads a strategy
that spreads its preemptions over all of them rarely gives the checker that window."""

import threading

SETTERS = 49


class Shared:
    a = 0
    b = 0


def program():
    s = Shared()

    def setter():
        s.a = 1
        s.b = -1

    def checker():
        a = s.a
        b = s.b
        assert (a, b) in ((0, 0), (1, -1)), f"a={a} b={b}"

    threads = [threading.Thread(target=setter) for _ in range(SETTERS)]
    threads.insert(SETTERS // 2, threading.Thread(target=checker))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
