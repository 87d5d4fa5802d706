import threading

counter = 0


def work():
    global counter
    for _ in range(2):
        counter = counter + 1  # RACE


threads = [threading.Thread(target=work) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
