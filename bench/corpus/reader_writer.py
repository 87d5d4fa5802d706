"""Reader-writer lock with an unprotected reader count: two readers' `readers += 1` race, the count
ends wrong and the writer enters while a reader is reading."""

import threading


class RWLock:
    def __init__(self):
        self.readers = 0
        self.write_lock = threading.Lock()
        self.writing = False

    def read(self, out):
        self.readers = self.readers + 1
        if self.readers == 1:
            self.write_lock.acquire()
        assert not self.writing, "read during a write"
        out.append(1)
        self.readers = self.readers - 1
        if self.readers == 0:
            self.write_lock.release()

    def write(self):
        with self.write_lock:
            self.writing = True
            self.writing = False


def program():
    rw = RWLock()
    out = []
    threads = [threading.Thread(target=rw.read, args=(out,)), threading.Thread(target=rw.read, args=(out,)),
               threading.Thread(target=rw.write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
