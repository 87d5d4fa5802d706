"""Check-then-act on a queue: `if not q.empty(): q.get_nowait()` by two consumers; one of them finds
the queue empty after all (queue.Empty)."""

import queue
import threading


def program():
    q = queue.Queue()
    q.put("job")
    done = []

    def consumer():
        if not q.empty():
            done.append(q.get_nowait())

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
