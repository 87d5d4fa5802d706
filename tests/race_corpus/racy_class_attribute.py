import threading


class Widget:
    created = 0

    def __init__(self):
        type(self).created += 1  # RACE


threads = [threading.Thread(target=Widget) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
