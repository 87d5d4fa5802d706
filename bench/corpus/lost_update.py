"""Lost update: two threads increment a global counter with `counter = counter + 1`."""

import threading

counter = 0


def work():
    global counter
    for _ in range(3):
        counter = counter + 1


def program():
    global counter
    counter = 0
    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter == 6, f"lost update: counter is {counter}"
