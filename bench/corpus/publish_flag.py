"""Flag set before the data: the writer raises `ready` and then fills in the data; a reader that sees
the flag reads the old data."""

import threading


class Mailbox:
    ready = False
    data = None


def program():
    box = Mailbox()

    def writer():
        box.ready = True
        box.data = 42

    def reader():
        if box.ready:
            assert box.data == 42, "flag seen before the data"

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
