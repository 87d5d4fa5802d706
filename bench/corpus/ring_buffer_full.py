"""A ring buffer that frees its slot too early (after SCTBench's circular_buffer): the consumer
takes the slot's index and decrements ``count`` under the lock, then copies the item out after
releasing it. The producer writes into a slot only if ``count < SIZE``. The freed slot is written again only by the
put that makes the buffer *full*: the item is overwritten before it is read only if the producer
fills every free slot, the freed one last, while the consumer is between its two steps.

Witness: the producer puts items 0..3 (full); the consumer takes index 0 and decrements count (3),
and is preempted before reading slot 0; the producer puts item 4 into slot (4 % 4) = 0; the consumer
reads 4 where it expected 0: the sequence it received is out of order."""

import threading

SIZE = 4
ITEMS = 8


class Ring:
    def __init__(self):
        self.slots = [None] * SIZE
        self.head = 0  # next slot to read
        self.tail = 0  # next slot to write
        self.count = 0
        self.cond = threading.Condition()

    def put(self, item):
        with self.cond:
            while self.count == SIZE:
                self.cond.wait()
            self.slots[self.tail] = item
            self.tail = (self.tail + 1) % SIZE
            self.count += 1
            self.cond.notify_all()

    def get(self):
        with self.cond:
            while self.count == 0:
                self.cond.wait()
            index = self.head
            self.head = (self.head + 1) % SIZE
            self.count -= 1  # the bug: the slot is freed before it is read
            self.cond.notify_all()
        return self.slots[index]


def program():
    ring = Ring()
    received = []

    def producer():
        for i in range(ITEMS):
            ring.put(i)

    def consumer():
        for _ in range(ITEMS):
            received.append(ring.get())

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert received == list(range(ITEMS)), f"received {received}"
