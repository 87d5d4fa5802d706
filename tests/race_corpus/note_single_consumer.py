"""One producer appends to a deque, one consumer takes from it after checking it is not empty.

``if q: q.popleft()`` is a check then an act, and the producer's append can come between them; but an
append leaves the deque non-empty and is not lost to the popleft (each is one atomic operation), so
with a single consumer nothing breaks: only the check's read against the append is a (benign) race.
A second consumer would break it (racy_two_consumers.py).
"""

import collections
import threading
import time

q = collections.deque()
got = []


def producer():
    for i in range(3):
        q.append(i)  # RACE


def consumer():
    while len(got) < 3:
        if q:  # RACE
            got.append(q.popleft())
        else:
            time.sleep(0.001)


threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert got == [0, 1, 2]
