import threading

ready = threading.Event()
data = {}


def publish():
    data["value"] = 7
    ready.set()


def read():
    ready.wait()
    assert data["value"] == 7


threads = [threading.Thread(target=read), threading.Thread(target=publish)]
for t in threads:
    t.start()
for t in threads:
    t.join()
