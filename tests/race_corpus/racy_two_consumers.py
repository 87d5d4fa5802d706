"""Two consumers check that a deque is not empty, then take from it: one can empty it between the
other's check and its popleft (IndexError). The same code with one consumer is correct
(note_single_consumer.py)."""

import collections
import threading

q = collections.deque([1])
got = []


def consumer():
    if q:  # RACE
        got.append(q.popleft())  # RACE


threads = [threading.Thread(target=consumer) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
