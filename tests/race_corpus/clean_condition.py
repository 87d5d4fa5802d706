import threading

cond = threading.Condition()
box = {"item": None}


def produce():
    with cond:
        box["item"] = 42
        cond.notify()


def consume():
    with cond:
        cond.wait_for(lambda: box["item"] is not None)
        assert box["item"] == 42


threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
for t in threads:
    t.start()
for t in threads:
    t.join()
