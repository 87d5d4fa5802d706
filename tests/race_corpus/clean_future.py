from concurrent.futures import ThreadPoolExecutor, as_completed


def build(n):
    report = {"n": n}
    report["square"] = n * n
    return report


with ThreadPoolExecutor(max_workers=2) as pool:
    futures = [pool.submit(build, n) for n in range(3)]
    results = [f.result() for f in as_completed(futures)]
for report in results:
    report["seen"] = True
    assert report["square"] == report["n"] ** 2
