import threading

local = threading.local()


def work(i):
    local.value = i
    assert local.value == i


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
