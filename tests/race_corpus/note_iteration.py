import threading

items = [1, 2, 3]


def total():
    s = 0
    for x in items:  # RACE
        s += x
    return s


def grow():
    items.append(4)  # RACE


threads = [threading.Thread(target=total), threading.Thread(target=grow)]
for t in threads:
    t.start()
for t in threads:
    t.join()
