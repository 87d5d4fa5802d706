"""The two-stage protocol of ``two_stage`` run for 100 rounds: the writer publishes round r in two
stages under two locks (``first = r`` under l1, then ``second = r`` under l2); the reader polls 100
times and checks that once it sees the last round's first stage it also sees its second.

Witness: the writer runs rounds 1..99 and stage one of round 100 (``first = 100``); the reader then
reads ``first`` (100) under l1 and ``second`` (99) under l2: the assertion fails. Only the last round
counts, so the preemption must come after hundreds of the writer's steps."""

import threading


class Data:
    first = 0
    second = 0


ROUNDS = 100


def program():
    d = Data()
    l1, l2 = threading.Lock(), threading.Lock()

    def writer():
        for r in range(1, ROUNDS + 1):
            with l1:
                d.first = r
            with l2:
                d.second = r

    def reader():
        for _ in range(ROUNDS):
            with l1:
                f = d.first
            if f == ROUNDS:
                with l2:
                    assert d.second == ROUNDS, "between the two stages of the last round"
                return

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
