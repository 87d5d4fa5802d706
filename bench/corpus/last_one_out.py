"""The last one out turns off the light, at the end of a long execution: three workers each process
300 items (a locked update per item: thousands of scheduling points), then count themselves out with
an unlocked ``finished += 1`` and the one that reads 3 publishes the result. Two workers finishing at
the same time lose an increment and nobody publishes.

Witness: worker 1 processes its 300 items and reads ``finished`` (0) and is preempted; worker 2
processes the rest of its items and finishes (``finished`` 1); worker 1 writes 1; worker 3 finishes:
``finished`` is 2, no one publishes. The preemption must fall between two statements at the very end
of thousands of steps, when another worker is about to finish too."""

import threading

WORKERS = 3
ITEMS = 300


class Job:
    processed = 0
    finished = 0
    published = False


def program():
    job = Job()
    lock = threading.Lock()

    def worker():
        for _ in range(ITEMS):
            with lock:
                job.processed += 1
        job.finished += 1  # the bug: not under the lock
        if job.finished == WORKERS:
            job.published = True

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert job.processed == WORKERS * ITEMS
    assert job.published, f"nobody published: finished {job.finished}"
