"""Racy lazy initialisation: both threads see `items is None`, both create a list, one thread's
appends go to the list that gets overwritten."""

import threading


class Registry:
    items = None

    def add(self, x):
        if self.items is None:
            self.items = []
        self.items.append(x)


def program():
    reg = Registry()
    threads = [threading.Thread(target=reg.add, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reg.items) == 2, f"lost registration: {reg.items}"
