"""The seed article's program (as in the article): N threads each add 1 to a global counter M times, unsynchronised."""
import sys
from threading import Thread

counter = 0


def increase(m):
    global counter
    for _ in range(m):
        counter = counter + 1


def main(n=400, m=100_000):
    threads = [Thread(target=increase, args=(m,)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"Final counter: {counter}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
