import threading

totals = {"apples": 0}


def add(n):
    totals["apples"] += n  # RACE


threads = [threading.Thread(target=add, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
