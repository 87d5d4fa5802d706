"""Double-checked locking: the singleton is published before it is initialised; a second thread
sees it through the unlocked first check and uses a half-built object."""

import threading


class Config:
    def __init__(self):
        self.loaded = False


class Holder:
    instance = None


def get_config(holder, lock):
    if holder.instance is None:
        with lock:
            if holder.instance is None:
                config = Config()
                holder.instance = config  # published too early
                config.values = {"mode": "fast"}
                config.loaded = True
    return holder.instance


def program():
    holder, lock = Holder(), threading.Lock()
    seen = []

    def user():
        config = get_config(holder, lock)
        seen.append(config.values["mode"])  # AttributeError when half-built

    threads = [threading.Thread(target=user) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
