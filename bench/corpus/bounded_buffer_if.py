"""Bounded buffer with `if` instead of `while` around `wait()`: two consumers, one item at a time;
a consumer woken by notify_all finds the item already taken by the other (IndexError)."""

import threading


class Buffer:
    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def put(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def get(self):
        with self.cond:
            if not self.items:
                self.cond.wait()
            return self.items.pop(0)


def program():
    buf = Buffer()
    got = []

    def consumer():
        got.append(buf.get())

    def producer():
        for i in range(2):
            buf.put(i)

    threads = [threading.Thread(target=consumer), threading.Thread(target=consumer),
               threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [0, 1]
