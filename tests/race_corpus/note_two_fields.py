import threading


class Point:
    def __init__(self):
        self.x = 0
        self.y = 0


p = Point()


def move():
    p.x = 1  # RACE
    p.y = 1  # RACE:y


def read():
    return (p.x, p.y)  # RACE # RACE:y


threads = [threading.Thread(target=move), threading.Thread(target=read)]
for t in threads:
    t.start()
for t in threads:
    t.join()
