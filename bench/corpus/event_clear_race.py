"""Missed signal with Event: the worker clears the event after each wake-up and handles one request;
two requests signalled before the clear count as one, and the worker waits for a second signal that
never comes (deadlock)."""

import threading


def program():
    request = threading.Event()
    pending = []
    handled = []

    def worker():
        for _ in range(2):
            request.wait()
            request.clear()
            handled.append(pending.pop(0))

    def client(i):
        pending.append(i)
        request.set()

    threads = [threading.Thread(target=worker)] + [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
