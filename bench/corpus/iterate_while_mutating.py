"""Iterating a dict while another thread inserts into it (RuntimeError: dictionary changed size
during iteration)."""

import threading


def program():
    sessions = {"a": 1, "b": 2}
    total = []

    def report():
        n = 0
        for key in sessions:
            n += sessions[key]
        total.append(n)

    def login():
        sessions["c"] = 3

    threads = [threading.Thread(target=report), threading.Thread(target=login)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
