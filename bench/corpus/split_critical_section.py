"""A critical section split in two: read under the lock, write under the lock, but not both at once
(every access is locked, the update is still lost)."""

import threading


class Counter:
    def __init__(self):
        self.value = 0
        self.lock = threading.Lock()

    def increment(self):
        with self.lock:
            v = self.value
        with self.lock:
            self.value = v + 1


def program():
    c = Counter()
    threads = [threading.Thread(target=c.increment) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.value == 2, f"lost update: {c.value}"
