"""A background thread that notices when the baton holder stops reaching scheduling points.

That happens when a managed thread blocks in something interlace does not control (a socket, a
subprocess, a C extension, a lock created by uninstrumented code). The watchdog marks it *outside*
so that the other threads keep running, and ends the execution with a report of where it is stuck
if it never comes back (see :meth:`Execution.watch`).
"""

from __future__ import annotations

import _thread
import time

from . import hooks

#: seconds without a scheduling point before the holder is considered blocked outside
OUTSIDE_AFTER = 0.5
#: seconds with nothing happening while a thread is outside before the execution is "stuck"
STUCK_AFTER = 10.0
_TICK = 0.05


class Watchdog:
    def __init__(self, outside_after: float = OUTSIDE_AFTER, stuck_after: float = STUCK_AFTER) -> None:
        self.outside_after = outside_after
        self.stuck_after = stuck_after
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()

    def start(self) -> Watchdog:
        _thread.start_new_thread(self._loop, ())
        return self

    def stop(self) -> None:
        self._stop.release()
        self._done.acquire(True, 5)

    def _loop(self) -> None:
        try:
            while not self._stop.acquire(True, _TICK):
                ex = hooks._active
                if ex is not None:
                    ex.watch(time.monotonic(), self.outside_after, self.stuck_after)
        finally:
            self._done.release()
