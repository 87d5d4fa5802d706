"""The article's program, fixed: the two threads increment the global counter under a lock.

`counter = counter + 1` is a read, an add and a write; the lock keeps another thread from running
in between, so no update is lost and no race is reported. DPOR proves it, running one execution
per class of equivalent interleavings:

    interlace explore examples/counter_locked.py --strategy dpor -n 100000
    ...
    all 20 interleaving classes explored (DPOR), no failure
"""

from threading import Lock, Thread

THREADS = 2
INCREMENTS = 3

counter = 0
lock = Lock()


def increase():
    global counter
    for _ in range(INCREMENTS):
        with lock:
            counter = counter + 1


threads = [Thread(target=increase) for _ in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

print(f"Final counter: {counter}")
assert counter == THREADS * INCREMENTS, f"lost update: counter is {counter}, expected {THREADS * INCREMENTS}"
