"""ABBA deadlock: two threads take two locks in opposite orders."""

import threading


def program():
    a, b = threading.Lock(), threading.Lock()
    log = []

    def one():
        with a:
            log.append(1)
            with b:
                log.append(2)

    def two():
        with b:
            log.append(3)
            with a:
                log.append(4)

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
