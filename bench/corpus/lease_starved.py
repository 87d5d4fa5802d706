"""A lease that expires while its holder is paused (the "GC pause" bug of lock services): two clients
take a lease that lasts 10 ticks of a logical clock a ticker thread advances; a client checks it
still holds the lease, then writes to the storage. If the holder is kept off the processor for more
than 10 ticks between its check and its write, the other client takes the expired lease and both
write as owner.

Witness: client A takes the lease (expires at tick 10), checks it still owns it, and is preempted;
the ticker runs 11 ticks while client B retries and takes the expired lease; A resumes and writes,
recording that B owned the lease at that moment: the assertion fails. A must be starved for at least
11 of the ticker's steps and B's retries."""

import threading

TICKS = 30
LEASE = 10


def program():
    lock = threading.Lock()
    clock = {"t": 0}
    lease = {"owner": None, "expires": 0}
    writes = []

    def ticker():
        for _ in range(TICKS):
            clock["t"] += 1

    def try_acquire(name):
        with lock:
            if lease["owner"] is None or clock["t"] > lease["expires"]:
                lease["owner"] = name
                lease["expires"] = clock["t"] + LEASE
                return True
            return False

    def still_owner(name):
        with lock:
            return lease["owner"] == name and clock["t"] <= lease["expires"]

    def client(name):
        for _ in range(TICKS):
            if try_acquire(name):
                break
        else:
            return
        if still_owner(name):
            writes.append((name, lease["owner"]))  # the bug: the check can be stale by now
        with lock:
            if lease["owner"] == name:
                lease["owner"] = None

    threads = [threading.Thread(target=ticker), threading.Thread(target=client, args=("A",)),
               threading.Thread(target=client, args=("B",))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(name == owner for name, owner in writes), f"writes {writes}"
