"""Duplicate ids: `n = self.next; self.next = n + 1` hands the same id to two threads."""

import threading


class Ids:
    def __init__(self):
        self.next = 1

    def new(self):
        n = self.next
        self.next = n + 1
        return n


def program():
    ids = Ids()
    got = []

    def worker():
        for _ in range(2):
            got.append(ids.new())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 4, f"duplicate ids: {got}"
