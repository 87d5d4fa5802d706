import threading

seen = set()


def visit(page):
    if page not in seen:  # RACE
        seen.add(page)  # RACE


threads = [threading.Thread(target=visit, args=("home",)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
