import queue
from concurrent.futures import ThreadPoolExecutor, wait

results = queue.SimpleQueue()


def job(n):
    data = {"n": n}
    results.put(data)


with ThreadPoolExecutor(max_workers=2) as pool:
    done, _ = wait([pool.submit(job, n) for n in range(2)])
got = sorted(results.get()["n"] for _ in range(2))
assert got == [0, 1]
