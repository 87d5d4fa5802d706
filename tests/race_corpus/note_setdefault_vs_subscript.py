import threading

counts = {}


def register():
    counts.setdefault("k", 0)  # RACE


def bump():
    counts["k"] = 5  # RACE


threads = [threading.Thread(target=register), threading.Thread(target=bump)]
for t in threads:
    t.start()
for t in threads:
    t.join()
