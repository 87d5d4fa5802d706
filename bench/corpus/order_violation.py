"""Order violation: the main thread starts a worker and only then sets the connection it uses."""

import threading


class Service:
    def __init__(self):
        self.conn = None
        self.sent = []

    def worker(self):
        self.conn.append("hello")  # AttributeError if conn is still None


def program():
    service = Service()
    t = threading.Thread(target=service.worker)
    t.start()
    service.conn = service.sent
    t.join()
