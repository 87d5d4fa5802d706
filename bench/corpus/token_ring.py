"""A token ring that passes the token early (after SCTBench's token_ring): four threads take turns,
each waiting on a Condition for ``turn == i``; the holder reads the shared total, hands the token on
(``turn = i + 1``, notify_all), and only then, outside the lock, writes total + 1 ("the next one
needs a while to wake up"). Each thread has three turns; the total must end at 12.

Witness: thread 0 reads total (0) and hands the token to thread 1, and is preempted before its
write; thread 1 wakes, reads total (still 0), hands on and writes 1; thread 0 writes 1: one turn is
lost and the total ends at 11. The next holder must run between two statements of the previous one,
and only after a wake-up, in one of twelve hand-offs."""

import threading

THREADS = 4
TURNS = 3


def program():
    cond = threading.Condition()
    state = {"turn": 0, "total": 0}

    def member(i):
        for _ in range(TURNS):
            with cond:
                while state["turn"] % THREADS != i:
                    cond.wait()
                seen = state["total"]
                state["turn"] += 1  # the bug: the token leaves before the update is written
                cond.notify_all()
            state["total"] = seen + 1

    threads = [threading.Thread(target=member, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state["total"] == THREADS * TURNS, f"total {state['total']}"
