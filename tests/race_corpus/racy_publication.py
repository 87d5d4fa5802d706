import threading


class Box:
    def __init__(self):
        self.ready = False
        self.payload = None


box = Box()


def publish():
    box.payload = [1, 2, 3]  # RACE:payload
    box.ready = True  # RACE


def consume():
    if box.ready:  # RACE
        return box.payload  # RACE:payload
    return None


threads = [threading.Thread(target=publish), threading.Thread(target=consume)]
for t in threads:
    t.start()
for t in threads:
    t.join()
