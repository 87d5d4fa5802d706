"""Uniform random walk: at every scheduling point, any enabled thread with equal probability."""

from __future__ import annotations

from typing import Any

from .base import Strategy


class RandomWalk(Strategy):
    name = "random"
    partitionable = True  # no state carries from one execution to the next

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        return enabled[self.rng.randrange(len(enabled))]
