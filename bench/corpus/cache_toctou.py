"""Time-of-check to time-of-use on a dict: `if key in cache: return cache[key]` while another thread
evicts the key (KeyError)."""

import threading


def program():
    cache = {"user": "alice"}

    def lookup():
        if "user" in cache:
            return cache["user"]
        return None

    def evict():
        cache.pop("user", None)

    threads = [threading.Thread(target=lookup), threading.Thread(target=evict)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
