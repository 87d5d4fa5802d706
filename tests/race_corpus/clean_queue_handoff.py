import queue
import threading


class Order:
    def __init__(self):
        self.items = []
        self.total = 0


q = queue.Queue()


def producer():
    for i in range(2):
        order = Order()
        order.items.append(i)
        order.total = i * 10
        q.put(order)


def consumer():
    for _ in range(2):
        order = q.get()
        assert order.total == order.items[0] * 10
        order.total += 1


threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
