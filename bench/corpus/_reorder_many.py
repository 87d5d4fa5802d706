"""Shared body of SCTBench's reorder with many setters (``reorder_20``, ``reorder_50``)."""

import threading


class Pair:
    a = 0
    b = 0


def reorder(setters: int) -> None:
    """``setters`` threads each store ``a = 1`` then ``b = -1``; one checker, started last, reads a then
    b and asserts it saw both stores or neither. Once any setter has finished, b is -1 for good: the
    checker must read inside the window before the first ``b = -1`` of all the setters."""
    p = Pair()

    def setter():
        p.a = 1
        p.b = -1

    def checker():
        a = p.a
        b = p.b
        assert (a == 0 and b == 0) or (a == 1 and b == -1), f"reorder: a={a} b={b}"

    threads = [threading.Thread(target=setter) for _ in range(setters)]
    threads.append(threading.Thread(target=checker))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
