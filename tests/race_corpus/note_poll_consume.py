"""A poll, then a consume of what it waited for: not a lost update.

The main thread polls until the worker's write shows, then takes it back (``box.ready = False``; a
lock's ``locked()`` polled, then its ``release()``). The worker's write cannot come between the read
that ended the poll and the consume: had it come after that read, the read would have seen the old
value and the loop would have gone on. Only the unordered read itself is a (benign) race.
"""

import threading
import time


class Box:
    ready = False


class Gate:
    def __init__(self):
        self.v_locked = False

    def acquire(self):
        self.v_locked = True  # RACE:gate

    def locked(self):
        return self.v_locked  # RACE:gate

    def release(self):
        if not self.v_locked:
            raise RuntimeError("release unlocked gate")
        self.v_locked = False


box = Box()
gate = Gate()


def setter():
    box.ready = True  # RACE:flag
    gate.acquire()


t = threading.Thread(target=setter)
t.start()
while not box.ready:  # RACE:flag
    time.sleep(0.001)
box.ready = False
while not gate.locked():
    time.sleep(0.001)
gate.release()
t.join()
