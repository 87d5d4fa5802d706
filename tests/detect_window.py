"""Detect-only's window between telling an access and doing it, made to happen on every run of
``race_corpus/note_publication.py`` (for tests/test_races.py): the consumer's read of ``box.ready`` is
told, then the consumer waits until the publisher has ended before it goes on.

A module of its own, imported by the test only and excluded from instrumentation there, so that the
wrapper's own accesses are never told (the test module is instrumented in place by other tests).
"""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable
from typing import Any


def forced_window(real: Callable[..., None]) -> Callable[..., None]:
    """A replacement of ``NativeExecution.access`` that calls ``real`` and forces the window."""
    consumer_told = _thread.allocate_lock()
    consumer_told.acquire()

    def access(self: Any, kind: str, obj: Any, key: Any, site: tuple, value: Any = None) -> None:
        name = threading.current_thread().name
        if name.endswith("(publish)") and key == "payload":
            assert consumer_told.acquire(timeout=10)  # the publisher starts once the read is told
        real(self, kind, obj, key, site, value)
        if name.endswith("(consume)") and key == "ready":
            consumer_told.release()
            deadline = time.monotonic() + 10
            while any(t.name.endswith("(publish)") for t in threading.enumerate()):
                assert time.monotonic() < deadline, "the publisher did not end"
                time.sleep(0.001)

    return access
