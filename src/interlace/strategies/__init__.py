"""Exploration strategies: one class per file behind :class:`~interlace.strategies.base.Strategy`."""

from __future__ import annotations

from .base import Strategy
from .pct import PCT
from .random_walk import RandomWalk
from .replay import ReplayStrategy

STRATEGIES = {"random": RandomWalk, "pct": PCT}


def make_strategy(name: str, seed: int, **options: object) -> Strategy:
    """Build a strategy by name; unknown names raise ValueError listing the known ones."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}") from None
    if cls is PCT:
        return PCT(seed, **options)  # type: ignore[arg-type]
    return cls(seed)


__all__ = ["STRATEGIES", "PCT", "RandomWalk", "ReplayStrategy", "Strategy", "make_strategy"]
