"""C code calling back into Python: ``max(d, key=f)`` iterates a shared dict in C and calls the key
function (which touches only its argument) for each key; another thread adds a key meanwhile.

Witness: ``max`` takes the first key and calls the key function; the other thread inserts ``"cy"``;
``max`` resumes its iteration: RuntimeError, dictionary changed size during iteration. Under CPython
the interpreter can switch threads inside each call of the key function."""

import threading


def program():
    scores = {"ann": 3, "bob": 5}
    best = []

    def ranking():
        best.append(max(scores, key=lambda name: len(name)))

    def join():
        scores["cy"] = 1

    threads = [threading.Thread(target=ranking), threading.Thread(target=join)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
