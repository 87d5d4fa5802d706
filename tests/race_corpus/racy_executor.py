from concurrent.futures import ThreadPoolExecutor

progress = {"done": 0}


def task():
    progress["done"] += 1  # RACE


with ThreadPoolExecutor(max_workers=2) as pool:
    future = pool.submit(task)
    progress["done"] = 0  # RACE
    future.result()
