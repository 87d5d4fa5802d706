"""Deadlock through a cycle of three locks: A->B, B->C, C->A, one pair per thread."""

import threading


def program():
    locks = [threading.Lock() for _ in range(3)]
    out = []

    def worker(i):
        first, second = locks[i], locks[(i + 1) % 3]
        with first:
            out.append(i)
            with second:
                out.append(-i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
