"""Lost update on a dict entry: `stats[k] = stats.get(k, 0) + 1` from three threads."""

import threading


def program():
    stats = {}

    def hit():
        stats["hits"] = stats.get("hits", 0) + 1

    threads = [threading.Thread(target=hit) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stats["hits"] == 3, f"lost hit: {stats}"
