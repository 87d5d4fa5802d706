import threading

counter = 0


def one():
    return 1


def work():
    global counter
    for _ in range(2):
        counter = counter + one()  # RACE


threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
