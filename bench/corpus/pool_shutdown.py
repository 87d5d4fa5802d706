"""A task lost at shutdown (after radbench's thread-pool bugs): ``submit`` checks the pool's
``shutdown`` flag without the lock, then queues the task under it. ``shutdown`` sets the flag, wakes
the workers and they exit once the queue is empty. A task queued after the last worker left is never
run, and the client that submitted it without an error waits for it forever.

Witness: the client checks the flag (not shut down) and is preempted; the main thread's shutdown sets
it and the worker, finding the queue empty, exits; the client queues its task and waits on its
Event: nobody will run it, a deadlock. The client must be stopped between its check and its queueing
exactly while the worker drains and leaves."""

import threading


class Pool:
    def __init__(self):
        self.cond = threading.Condition()
        self.tasks = []
        self.shutdown = False
        self.worker = threading.Thread(target=self.work)
        self.worker.start()

    def work(self):
        while True:
            with self.cond:
                while not self.tasks and not self.shutdown:
                    self.cond.wait()
                if not self.tasks:
                    return
                task = self.tasks.pop(0)
            task()

    def submit(self, task):
        if self.shutdown:  # the bug: checked without the lock
            raise RuntimeError("pool is shut down")
        with self.cond:
            self.tasks.append(task)
            self.cond.notify()

    def close(self):
        with self.cond:
            self.shutdown = True
            self.cond.notify_all()
        self.worker.join()


def program():
    pool = Pool()
    ran = []

    def client():
        for i in range(2):
            done = threading.Event()

            def task(i=i, done=done):
                ran.append(i)
                done.set()
            try:
                pool.submit(task)
            except RuntimeError:
                return
            done.wait()

    c = threading.Thread(target=client)
    c.start()
    pool.close()
    c.join()
