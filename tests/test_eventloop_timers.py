"""Many cancelled timers in a controlled event loop: they leave the heap through the controlled loop's
own ``_il_due`` (which forgets a hang guard's entry), never through the base loop's bulk removal (run
when more than half of over 100 timers are cancelled), which would leave a guard's entry behind."""

from __future__ import annotations

import asyncio

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)

SEEN: list = []


async def _many_cancelled() -> None:
    loop = asyncio.get_running_loop()
    handles = [loop.call_later(100 + i, print) for i in range(300)]
    for handle in handles:
        handle.cancel()
    assert loop._timer_cancelled_count == 300
    waiting = asyncio.ensure_future(asyncio.wait_for(asyncio.sleep(0.01), 5))  # a hang guard's timer (5 s)
    while not loop._il_guards:
        await asyncio.sleep(0)
    guards = len(loop._il_guards)
    await waiting  # (the guard's timer is cancelled then)
    await asyncio.sleep(0)
    SEEN.append((type(loop).__name__, guards, len(loop._scheduled), loop._timer_cancelled_count,
                 len(loop._il_guards)))


def test_cancelled_timers_leave_the_heap_through_the_controlled_loop():
    SEEN.clear()
    result = interlace.explore(lambda: asyncio.run(_many_cancelled()), strategy="random", executions=2,
                               races="off", shrink=False)
    assert result.ok, result.report()
    # every cancelled timer popped by _il_due (none left, none counted), the guard's entry with them
    assert SEEN == [("ControlledLoop", 1, 0, 0, 0)] * 2
