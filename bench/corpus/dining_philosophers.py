"""Dining philosophers: three philosophers each take the left fork, then the right one."""

import threading


def program():
    forks = [threading.Lock() for _ in range(3)]
    meals = []

    def philosopher(i):
        left, right = forks[i], forks[(i + 1) % 3]
        with left:
            with right:
                meals.append(i)

    threads = [threading.Thread(target=philosopher, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(meals) == 3
