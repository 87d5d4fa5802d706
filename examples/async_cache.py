"""A cache for an async service whose check-then-act spans an ``await``.

Two requests for one key arrive close together. Each checks the cache, misses, and loads the value
from the backend; the second must find what the first stored. An ``await`` is a switch point like a
thread switch: if the loop runs the second request's check while the first is still loading, both
load, and the backend is hit twice. The plain event loop runs ready tasks in a fixed order, in which
the first request always stores before the second checks, so ``python async_cache.py`` passes; but
a real backend's reply can come later than the session check, which interlace explores (a task's
step after a ``sleep`` may run after steps queued behind it):

    interlace explore examples/async_cache.py
"""

import asyncio

cache = {}
loads = 0


async def load(key):
    global loads
    loads += 1
    await asyncio.sleep(0)  # the backend's reply
    return key.upper()


async def get(key):
    if key not in cache:
        cache[key] = await load(key)
    return cache[key]


async def authenticated_get(key):
    await asyncio.sleep(0)  # the session check
    return await get(key)


async def main():
    values = await asyncio.gather(get("user:1"), authenticated_get("user:1"))
    print(f"values: {values}, backend loads: {loads}")
    assert loads == 1, f"the backend was hit {loads} times for one key"


asyncio.run(main())
