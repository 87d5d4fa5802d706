import threading

log = []


def work(i):
    log.append(i)
    log.append(i * 10)


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert sorted(log) == [0, 0, 1, 10]
