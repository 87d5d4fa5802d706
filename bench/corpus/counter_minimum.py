"""A lost update down to the minimum: two threads each increment a counter 4 times without a lock;
the program asserts the counter ends above 2 (a "we lose at most a few" belief). Reaching 2 needs four
preemptions at exact places, deep inside long threads.

Witness: A reads 0 | B increments three times (3) | A writes 1 | B reads 1 | A increments three times
(4) | B writes 2. The counter ends at 2."""

import threading


class Counter:
    n = 0


def program():
    c = Counter()

    def worker():
        for _ in range(4):
            c.n = c.n + 1

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.n > 2, f"counter ended at {c.n}"
