"""A lock and a condition taken in both orders (after SCTBench's carter01): a dispatcher waits on a
Condition for jobs and, once it has one, counts it under ``stats_lock`` while still holding the
Condition's lock; the clients count a submission under ``stats_lock`` and then, still holding it,
enter the Condition to queue the job. Two clients, two jobs each.

Witness: client 1 queues a job and notifies; the dispatcher wakes, takes the job (holding the
Condition's lock) and is preempted before taking ``stats_lock``; client 2 takes ``stats_lock`` and
blocks on the Condition's lock; the dispatcher blocks on ``stats_lock``: a deadlock. The dispatcher
must be preempted after a wake-up, with a client between its two locks."""

import threading


def program():
    cond = threading.Condition()
    stats_lock = threading.Lock()
    jobs = []
    stats = {"submitted": 0, "done": 0}

    def dispatcher():
        for _ in range(4):
            with cond:
                while not jobs:
                    cond.wait()
                jobs.pop(0)
                with stats_lock:  # Condition's lock, then stats_lock
                    stats["done"] += 1

    def client(i):
        for k in range(2):
            with stats_lock:
                stats["submitted"] += 1
                with cond:  # stats_lock, then the Condition's lock
                    jobs.append((i, k))
                    cond.notify()

    threads = [threading.Thread(target=dispatcher)] + [threading.Thread(target=client, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats == {"submitted": 4, "done": 4}
