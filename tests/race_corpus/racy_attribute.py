import threading


class Stats:
    def __init__(self):
        self.hits = 0

    def hit(self):
        self.hits += 1  # RACE


stats = Stats()
threads = [threading.Thread(target=stats.hit) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
