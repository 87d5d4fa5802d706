"""Reorder (after SCTBench's reorder_N): setters write a then b; a checker asserts a == b. With
several setters the checker must run between one setter's two writes."""

import threading


class Pair:
    a = 0
    b = 0


def program():
    p = Pair()

    def setter():
        p.a = 1
        p.b = 1

    def checker():
        a = p.a
        b = p.b
        assert a == b, f"a={a} b={b}"

    threads = [threading.Thread(target=setter) for _ in range(3)] + [threading.Thread(target=checker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
