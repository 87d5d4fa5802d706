"""Lost wake-up: the consumer tests the flag outside the condition's lock, the producer sets it and
notifies in between, and the consumer then waits forever (a deadlock)."""

import threading


class Box:
    ready = False


def program():
    box = Box()
    cond = threading.Condition()

    def consumer():
        if not box.ready:
            with cond:
                cond.wait()

    def producer():
        box.ready = True
        with cond:
            cond.notify()

    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
