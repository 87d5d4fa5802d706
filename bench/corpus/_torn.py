"""Shared body of the torn-read bugs with many writer threads (``torn_read_10``, ``torn_read_20``)."""

import threading


class Pair:
    a = 0
    b = 0


def torn_read(writers: int) -> None:
    """``writers`` threads each store a then b (the same value); one checker reads a then b. The
    checker must run between the two stores of one writer, while ``writers`` threads compete."""
    p = Pair()

    def writer(i):
        p.a = i
        p.b = i

    def checker():
        a = p.a
        b = p.b
        assert a == b, f"torn read: a={a} b={b}"

    threads = [threading.Thread(target=writer, args=(i + 1,)) for i in range(writers)]
    threads.append(threading.Thread(target=checker))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
