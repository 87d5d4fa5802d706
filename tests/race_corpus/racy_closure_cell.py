import threading


def main():
    count = 0

    def work():
        nonlocal count
        count += 1  # RACE

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
