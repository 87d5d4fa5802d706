"""Two locks for one datum (after SCTBench's wronglock): four threads update a shared record; three
of them, written together, take ``record_lock``; the fourth, a later addition, takes ``stats_lock``,
which guards another field in the same class. Every update of the datum is locked, by the wrong lock
in one thread.

Witness: worker 1 (under record_lock) reads ``hits`` (2) and is preempted; the reporter (under
stats_lock) reads 2 and writes 3; worker 1 writes 3: one hit lost, 7 instead of 8 at the end. The
three workers alone cannot lose an update: the preemption must fall in a worker's critical section
while the reporter, one thread of four, runs its own."""

import threading


class Record:
    hits = 0
    reports = 0


def program():
    r = Record()
    record_lock = threading.Lock()
    stats_lock = threading.Lock()

    def worker():
        for _ in range(2):
            with record_lock:
                r.hits = r.hits + 1

    def reporter():
        for _ in range(2):
            with stats_lock:
                r.reports = r.reports + 1
                r.hits = r.hits + 1  # the bug: record_lock guards hits

    threads = [threading.Thread(target=worker) for _ in range(3)] + [threading.Thread(target=reporter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.hits == 8, f"{r.hits} hits, 8 expected"
