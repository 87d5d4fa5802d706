import threading

sem = threading.Semaphore(1)
state = {"n": 0}


def work():
    with sem:
        state["n"] += 1


threads = [threading.Thread(target=work) for _ in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert state["n"] == 3
