"""Tasks and a worker thread update one dict: running everything on one event loop does not help.

The request handlers are tasks; the metrics report runs in a worker thread (``asyncio.to_thread``)
and reads the request count, then resets it. A handler that counts a request between the thread's
read and its reset loses that request. interlace schedules the tasks and the thread together:

    interlace explore examples/async_thread_race.py
"""

import asyncio

stats = {"requests": 0}
reported = []


def report():
    """Runs in a worker thread: send the count so far, then start counting again."""
    count = stats["requests"]
    reported.append(count)
    stats["requests"] = 0


async def handle(n):
    await asyncio.sleep(0.01 * n)  # the request's own work
    stats["requests"] += 1


async def main():
    await asyncio.gather(*(handle(n) for n in range(3)), asyncio.to_thread(report))
    counted = sum(reported) + stats["requests"]
    print(f"reported {reported}, still counted {stats['requests']}")
    assert counted == 3, f"{3 - counted} request(s) lost"


asyncio.run(main())
