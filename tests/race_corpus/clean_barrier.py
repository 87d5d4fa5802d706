import threading

barrier = threading.Barrier(2)
slots = {0: None, 1: None}


def worker(i):
    slots[i] = i * 10
    barrier.wait()
    assert slots[1 - i] == (1 - i) * 10


threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
