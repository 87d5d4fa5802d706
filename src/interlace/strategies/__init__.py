"""Exploration strategies: one class per file behind :class:`~interlace.strategies.base.Strategy`."""

from __future__ import annotations

from .base import Strategy
from .dfs import DFS
from .dpor import DPOR
from .pct import PCT
from .portfolio import Portfolio
from .pos import POS
from .random_walk import RandomWalk
from .replay import ReplayStrategy
from .timeslice import TimeSlice

STRATEGIES = {"random": RandomWalk, "pct": PCT, "pos": POS, "dfs": DFS, "dpor": DPOR, "portfolio": Portfolio,
              "timeslice": TimeSlice}


def make_strategy(name: str, seed: int, **options: object) -> Strategy:
    """Build a strategy by name; unknown names raise ValueError listing the known ones."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}") from None
    if cls is PCT:
        return PCT(seed, **options)  # type: ignore[arg-type]
    if cls is DFS:
        return DFS(seed, **{k: v for k, v in options.items() if k == "max_preemptions"})  # type: ignore[arg-type]
    return cls(seed)


__all__ = ["STRATEGIES", "DFS", "DPOR", "PCT", "POS", "Portfolio", "RandomWalk", "ReplayStrategy", "Strategy",
           "TimeSlice", "make_strategy"]
