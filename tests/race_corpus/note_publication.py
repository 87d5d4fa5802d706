import threading


class Box:
    def __init__(self):
        self.ready = False
        self.payload = None


box = Box()


def publish():
    box.payload = [1, 2, 3]  # ordered before the read of payload by the store of ready that publishes it
    box.ready = True  # RACE


def consume():
    if box.ready:  # RACE
        return box.payload
    return None


threads = [threading.Thread(target=publish), threading.Thread(target=consume)]
for t in threads:
    t.start()
for t in threads:
    t.join()
