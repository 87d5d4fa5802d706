"""C code calling back into Python: ``list.sort(key=f)`` sorts a shared list in place (CPython empties
the list while it sorts) and calls the key function for each item; another thread appends meanwhile.

Witness: the sort starts and calls the key function; the other thread appends 4 (to the list the
sort has emptied); the sort ends: ValueError, list modified during sort."""

import threading


def program():
    jobs = [3, 1, 2]

    def order():
        jobs.sort(key=lambda j: -j)

    def submit():
        jobs.append(4)

    threads = [threading.Thread(target=order), threading.Thread(target=submit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
