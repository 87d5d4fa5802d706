"""interlace: make race conditions in threaded Python code obvious and reproducible.

Run threaded code under a controlled scheduler that chooses every interleaving, find the failure,
and replay it exactly::

    import interlace

    result = interlace.explore(test_counter, executions=1000, seed=7)
    result.raise_on_failure()
"""

from __future__ import annotations

from .drivers.detect_only import detect
from .drivers.explore import ExplorationInterrupted, InterlaceFailure, Result, explore, replay
from .runtime.state import Failure
from .schedule import Schedule, ScheduleError

__version__ = "0.1.0"

__all__ = ["ExplorationInterrupted", "Failure", "InterlaceFailure", "Result", "Schedule", "ScheduleError", "detect",
           "explore", "replay", "__version__"]
