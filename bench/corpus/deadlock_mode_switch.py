"""A deadlock that needs three threads in a precise order: a mover takes the locks of the two
tables it moves rows between, in an order that depends on a ``reverse`` flag an admin thread turns
on once ("move back"); an indexer always takes ``a`` then ``b``. The lock order is inverted only for
moves that read the flag after the admin set it, while the indexer is between its two acquires.

Witness: the admin sets ``reverse``; the mover reads it, takes ``b``, and is preempted; the indexer
takes ``a`` and blocks on ``b``; the mover blocks on ``a``: a deadlock. Before the admin runs, the
mover's order is the indexer's; after the indexer's last acquire pair, no cycle is possible: the
admin, the mover and the indexer must run in that order with the two lock holders preempted between
their acquires."""

import threading


def program():
    a, b = threading.Lock(), threading.Lock()
    state = {"reverse": False, "moved": 0, "indexed": 0}

    def admin():
        with a:
            state["moved"] += 0  # an audit of the tables first
        state["reverse"] = True

    def mover():
        for _ in range(2):
            first, second = (b, a) if state["reverse"] else (a, b)
            with first:
                with second:
                    state["moved"] += 1

    def indexer():
        for _ in range(2):
            with a:
                with b:
                    state["indexed"] += 1

    threads = [threading.Thread(target=f) for f in (indexer, mover, admin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["moved"] == 2 and state["indexed"] == 2
