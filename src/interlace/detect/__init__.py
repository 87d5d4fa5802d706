"""Detectors: observers of an execution that report bugs even when the program does not fail.

- :mod:`.races`: happens-before data races (FastTrack-style vector clocks), with both stacks and a
  verdict on whether the race can manifest under the GIL of the running interpreter;
- :mod:`.lockorder`: lock-order inversions (potential deadlocks), lockdep-style.
"""

from __future__ import annotations

from .lockorder import LockInversion, LockOrderDetector
from .races import Race, RaceDetector

__all__ = ["LockInversion", "LockOrderDetector", "Race", "RaceDetector"]
