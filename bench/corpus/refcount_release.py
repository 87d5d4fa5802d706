"""A reference count released in two steps (after the reference-counting bugs of SCTBench's radbench
programs): ``release`` decrements the count under the handle's lock, then reads it again outside the
lock to decide whether it was the last user and must close the handle. Two users release at about the
same time; both read 0 and the handle is closed twice.

Witness: user 1 decrements (1) and is preempted before its check; user 2 decrements (0), reads 0
and closes; user 1 reads 0 and closes again: ``closed`` is 2."""

import threading


class Handle:
    def __init__(self, refs):
        self.lock = threading.Lock()
        self.refs = refs
        self.closed = 0
        self.reads = 0

    def use(self):
        with self.lock:
            self.reads += 1

    def release(self):
        with self.lock:
            self.refs -= 1
        if self.refs == 0:  # the bug: read again after the lock is released
            self.closed += 1


def program():
    handle = Handle(2)

    def user():
        for _ in range(3):
            handle.use()
        handle.release()

    threads = [threading.Thread(target=user) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handle.closed == 1, f"closed {handle.closed} times"
