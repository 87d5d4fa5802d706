"""C code calling back into Python: ``functools.reduce`` folds a shared set with a callback that
touches only its arguments; another thread adds to the set meanwhile.

Witness: ``reduce`` takes the first two names and calls the callback; the other thread adds
``"dan"``; ``reduce`` asks the set for the next name: RuntimeError, Set changed size during
iteration."""

import functools
import threading


def program():
    names = {"ann", "bob", "cy"}
    total = []

    def count():
        total.append(functools.reduce(lambda acc, name: acc + len(name), names, 0))

    def add():
        names.add("dan")

    threads = [threading.Thread(target=count), threading.Thread(target=add)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
