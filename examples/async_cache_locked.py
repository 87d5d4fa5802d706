"""The async cache, fixed: an ``asyncio.Lock`` makes the check and the load one step for other tasks.

A request that finds the lock taken waits for it, then finds the value the first request stored.
DPOR proves it, running one execution per class of equivalent task orders (one here: whichever
request goes on first after its sleep, the second waits for the lock or finds the value):

    interlace explore examples/async_cache_locked.py --strategy dpor -n 100000
"""

import asyncio

cache = {}
loads = 0


async def load(key):
    global loads
    loads += 1
    await asyncio.sleep(0)  # the backend's reply
    return key.upper()


async def get(key, lock):
    async with lock:
        if key not in cache:
            cache[key] = await load(key)
    return cache[key]


async def authenticated_get(key, lock):
    await asyncio.sleep(0)  # the session check
    return await get(key, lock)


async def main():
    lock = asyncio.Lock()
    values = await asyncio.gather(get("user:1", lock), authenticated_get("user:1", lock))
    print(f"values: {values}, backend loads: {loads}")
    assert loads == 1, f"the backend was hit {loads} times for one key"


asyncio.run(main())
