"""A readers-writer lock whose writer gives up waiting: ``write`` tries 5 times to find no reader
inside, and then writes anyway ("a reader must have leaked its count"). Three readers read a pair
three times each; the writer updates it twice. The pair is torn only if the writer is starved, a
reader inside at each of its 5 attempts, and the forced write lands between a reader's two reads.

Witness: reader 1 enters (readers 1) and reads ``a``; it is preempted; the writer's 5 attempts all
see readers == 1; it writes a and b; reader 1 reads the new ``b``: a torn pair (0, 1)."""

import threading

ATTEMPTS = 5


class RWLock:
    def __init__(self):
        self.mutex = threading.Lock()
        self.readers = 0

    def read_acquire(self):
        with self.mutex:
            self.readers += 1

    def read_release(self):
        with self.mutex:
            self.readers -= 1

    def write(self, update):
        for _ in range(ATTEMPTS):
            with self.mutex:
                if self.readers == 0:
                    update()
                    return
        update()  # the bug: starved writers write without the lock


class Pair:
    a = 0
    b = 0


def program():
    rw = RWLock()
    p = Pair()

    def reader():
        for _ in range(3):
            rw.read_acquire()
            a = p.a
            b = p.b
            rw.read_release()
            assert a == b, f"torn pair ({a}, {b})"

    def writer():
        for v in (1, 2):
            def update(v=v):
                p.a = v
                p.b = v
            rw.write(update)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
