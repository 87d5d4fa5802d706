"""Work-stealing deque without synchronisation: the owner pops from the bottom while a thief steals
from the top; with one item left both take it."""

import threading


class Deque:
    def __init__(self, items):
        self.items = list(items)
        self.top = 0
        self.bottom = len(items)

    def pop(self):
        if self.bottom - self.top <= 0:
            return None
        self.bottom = self.bottom - 1
        return self.items[self.bottom]

    def steal(self):
        if self.bottom - self.top <= 0:
            return None
        item = self.items[self.top]
        self.top = self.top + 1
        return item


def program():
    dq = Deque(["a", "b", "c"])
    taken = []

    def owner():
        while (item := dq.pop()) is not None:
            taken.append(item)

    def thief():
        item = dq.steal()
        if item is not None:
            taken.append(item)

    threads = [threading.Thread(target=owner), threading.Thread(target=thief)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == len(set(taken)), f"an item was taken twice: {taken}"
