"""A reusable barrier whose count is reset late: the last thread to arrive starts a new generation,
wakes the others, leaves the Condition, and only then resets ``count`` to 0. A woken thread that runs
its next phase and arrives at the barrier again before that reset counts itself in the old count
(4 of 3 parties), and the reset then erases its arrival: the next phase never gets its third
arrival, and everybody waits. Three threads, three phases.

Witness: threads 1 and 2 wait; thread 3 arrives (count 3), starts generation 1, notifies, releases
the lock and is preempted before its reset; thread 1 wakes, does its phase-1 work and arrives again
(count 4: not the last, it waits); thread 3 resets count to 0 and arrives (1); thread 2 arrives (2):
all three wait for a third arrival that already happened, a deadlock. Under a real scheduler the
last arriver almost always runs on to its reset first."""

import threading

THREADS = 3
PHASES = 3


class Barrier:
    def __init__(self, parties):
        self.parties = parties
        self.count = 0
        self.generation = 0
        self.cond = threading.Condition()

    def wait(self):
        with self.cond:
            generation = self.generation
            self.count += 1
            last = self.count == self.parties
            if last:
                self.generation += 1
                self.cond.notify_all()
            else:
                while self.generation == generation:
                    self.cond.wait()
        if last:
            self.count = 0  # the bug: reset after the others were let go, outside the lock


def program():
    barrier = Barrier(THREADS)
    done = [[] for _ in range(PHASES)]
    lock = threading.Lock()

    def worker(i):
        for phase in range(PHASES):
            with lock:
                done[phase].append(i)
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(d) == THREADS for d in done)
