import threading


class Registry:
    def __init__(self):
        self.lock = threading.RLock()
        self.items = {}

    def add(self, key):
        with self.lock:
            if key not in self.items:
                self.items[key] = self.size() + 1

    def size(self):
        with self.lock:
            return len(self.items)


reg = Registry()
threads = [threading.Thread(target=reg.add, args=(k,)) for k in "ab"]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert sorted(reg.items.values()) == [1, 2]
