"""The interface every exploration strategy implements.

A strategy only chooses: given the enabled threads at a scheduling point, which one runs next. It
never touches threads. The same seed must give the same sequence of choices, bit for bit, so that
any execution can be reproduced from (seed, execution index) alone.

Partitioning (``interlace explore --workers N``, ``--dask``): a strategy with ``partitionable = True``
promises that execution ``index`` is the same whichever other executions this instance ran before,
provided it ran, before it, the executions :meth:`Strategy.requires` names. A worker then
runs any share of the indexes, running first, unreported, what its share requires (a calibration
execution, a systematic phase): the answer is the same for every number of workers. A strategy
whose executions depend on all earlier ones (dfs, dpor) keeps ``partitionable = False``.

Some executions of a partitionable strategy form a *chain* (:meth:`Strategy.chain`): each requires
the chain's executions before it (the portfolio's DPOR executions extend one tree). A chain run by
every worker would be run N times; so every execution of a chain goes to one worker, which runs
them in order, and the other executions are shared among all workers.
"""

from __future__ import annotations

import random
from typing import Any

#: returned by :meth:`Strategy.choose` to end the execution now (e.g. a replay that diverged)
STOP = -1


class Strategy:
    """Base class: one instance drives a whole exploration (many executions)."""

    name = "base"
    #: execution ``index`` depends on (seed, index) and the executions ``requires(index)`` names only
    partitionable = False

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(0)

    def begin(self, index: int) -> bool:
        """Prepare execution number ``index``; return False when there is nothing left to explore."""
        self.rng = random.Random(f"{self.seed}/{index}")
        return True

    def requires(self, index: int) -> range | tuple[int, ...]:
        """The executions, below ``index`` and ascending, this instance must have run (in that order)
        before execution ``index`` is the same as in a run of every execution in order: the
        calibrations a partitionable strategy learns from; every earlier one for the others. The
        list is closed: what an execution in it requires is in it too."""
        return () if self.partitionable else range(index)

    def chain(self, index: int) -> int | None:
        """The chain (0, 1, ...) execution ``index`` belongs to, or None for an execution that requires
        only a few others (a calibration). The executions of one chain require each other: one worker
        runs them all, in order, instead of every worker that runs one of them running those before
        it. Which worker runs what never changes the answer (each execution runs after what it
        requires); the chains only save the repeated work."""
        return None

    def thread_created(self, tid: int) -> None:
        """A new managed thread exists (thread 0 is the main thread)."""

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        """Return the tid (one of ``enabled``, ascending) that runs next; ``current`` may be None."""
        raise NotImplementedError

    # Optional, for the scheduler's fast path (a strategy without them is asked at every decision):
    #
    # def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
    #     After choose() returned ``chosen``: for how many of the following decisions would choose()
    #     return ``chosen`` again, as long as the enabled threads stay the same and ``chosen`` keeps
    #     running? Those decisions are then taken without asking (a counter decrement each).
    #
    # def stayed(self, n: int) -> None:
    #     ``n`` decisions were taken that way (at most the quantum: a change in who can run ends it
    #     early), each returning the thread that was running; called before the next choose().

    def end(self, execution: Any) -> None:
        """The execution finished (with or without a failure)."""

    def describe(self) -> str:
        return self.name
