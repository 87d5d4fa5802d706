"""A one-slot buffer whose producers and consumers share one Condition and use ``notify()``: a
consumer's notify can wake the other consumer instead of a producer, and everybody ends up waiting
(a deadlock). Two producers and two consumers, two items each way.

Witness: both consumers wait (empty); producer P1 puts, notifies consumer C1; P1 and P2 wait (full);
C1 takes the item and notifies -- waking C2, not a producer; C2 finds the slot empty and waits; C1
loops, finds it empty and waits: all four wait."""

import threading


def program():
    cond = threading.Condition()
    slot = []

    def producer(i):
        for k in range(2):
            with cond:
                while slot:
                    cond.wait()
                slot.append((i, k))
                cond.notify()

    def consumer():
        for _ in range(2):
            with cond:
                while not slot:
                    cond.wait()
                slot.pop()
                cond.notify()

    threads = [threading.Thread(target=consumer), threading.Thread(target=consumer),
               threading.Thread(target=producer, args=(1,)), threading.Thread(target=producer, args=(2,))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
