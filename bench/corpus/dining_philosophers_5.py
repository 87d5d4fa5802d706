"""Dining philosophers with five: each takes the left fork, then the right one.

Witness: philosophers 0, 1, 2, 3 and 4 each take their left fork before any takes its right one (four
preemptions, each right after a philosopher's first acquire): every one waits for its right
neighbour's left fork, a deadlock."""

import threading

N = 5


def program():
    forks = [threading.Lock() for _ in range(N)]
    meals = []

    def philosopher(i):
        left, right = forks[i], forks[(i + 1) % N]
        with left:
            with right:
                meals.append(i)

    threads = [threading.Thread(target=philosopher, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(meals) == N
