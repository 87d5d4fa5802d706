"""A correct readers-writer lock on a ``threading.Condition``, whose readers compute in C (no
scheduling point for a while): explored by tests/test_load.py, idle and under CPU load."""

import hashlib
import threading


class RWLock:
    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    def acquire_read(self):
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1

    def release_read(self):
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_write(self):
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True

    def release_write(self):
        with self._cond:
            self._writer = False
            self._cond.notify_all()


def program(work=1000, rw_work=1000):
    lock = RWLock()
    data = {"value": 0, "seen": []}

    def reader():
        lock.acquire_read()
        try:
            seen = data["value"]
            sum(range(rw_work))  # C, no scheduling point: slow, slower on a loaded machine
            data["seen"].append(seen)
        finally:
            lock.release_read()

    def writer():
        lock.acquire_write()
        try:
            data["value"] += 1
        finally:
            lock.release_write()

    def slow():
        # C without the GIL and without a scheduling point, while another thread could run
        data["total"] = hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", work)

    def fast():
        for i in range(5):
            data["fast"] = i

    threads = [threading.Thread(target=f) for f in (reader, writer, reader, writer, slow, fast)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert data["value"] == 2
    assert len(data["seen"]) == 2
