"""A seqlock reader that gives up: it retries a read while a writer is active, but only 3 times, and
then returns what it read anyway ("the writers cannot be that busy"). Two writers each update the
pair 3 times. The reader returns a torn pair only if writers disturb all its attempts and its last,
unchecked read.

Witness: the reader reads seq (even), a; a writer bumps seq, writes a and b, bumps seq; the reader
reads b, sees seq changed, retries; the same twice more; then, on its fallback read, a writer stores
a (not yet b) between the reader's reads of a and b: the pair is torn and the assertion fails."""

import threading


class SeqLock:
    seq = 0
    a = 0
    b = 0


def program():
    s = SeqLock()
    wlock = threading.Lock()

    def writer(v):
        for k in range(3):
            with wlock:
                s.seq += 1
                s.a = v * 10 + k
                s.b = v * 10 + k
                s.seq += 1

    def reader():
        for _ in range(3):
            before = s.seq
            a, b = s.a, s.b
            if before % 2 == 0 and s.seq == before:
                break
        else:
            a, b = s.a, s.b  # starved: read without the check
        assert a == b, f"torn pair ({a}, {b})"

    threads = [threading.Thread(target=writer, args=(1,)), threading.Thread(target=writer, args=(2,)),
               threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
