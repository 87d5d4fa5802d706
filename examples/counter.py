"""The article's program, sized small: a global counter incremented by two threads without a lock.

`counter = counter + 1` is a read, an add and a write; another thread can run in between, and an
update is lost. Run it under interlace to see the interleaving:

    interlace explore examples/counter.py
"""

from threading import Thread

THREADS = 2
INCREMENTS = 3

counter = 0


def increase():
    global counter
    for _ in range(INCREMENTS):
        counter = counter + 1


threads = [Thread(target=increase) for _ in range(THREADS)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

print(f"Final counter: {counter}")
assert counter == THREADS * INCREMENTS, f"lost update: counter is {counter}, expected {THREADS * INCREMENTS}"
