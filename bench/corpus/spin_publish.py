"""A spin-wait on a flag that is raised before the data it guards: the consumer busy-waits for
``ready`` (a loop of reads that only another thread can end), the producer sets ``ready`` and then
the data.

Witness: the consumer spins; the producer sets ``ready = True``; the consumer leaves its loop and
reads ``data`` (None) before the producer stores 42: the assertion fails. A strategy with strict
priorities must still let the producer run while the consumer spins."""

import threading


class Box:
    ready = False
    data = None


def program():
    box = Box()

    def consumer():
        while not box.ready:
            pass
        assert box.data == 42, "flag seen before the data"

    def producer():
        for _ in range(3):
            pass
        box.ready = True
        box.data = 42

    threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
