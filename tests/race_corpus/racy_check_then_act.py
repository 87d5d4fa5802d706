import threading

cache = {}


def lookup(key):
    if cache.get(key) is None:  # RACE
        cache[key] = key.upper()  # RACE


threads = [threading.Thread(target=lookup, args=("a",)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
