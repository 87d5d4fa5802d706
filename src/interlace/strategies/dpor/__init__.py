"""DPOR: optimal dynamic partial order reduction with wakeup trees (Abdulla et al., POPL 2014).

Two interleavings that differ only in the order of independent operations (a Mazurkiewicz trace) end
in the same state; DPOR runs one execution per trace instead of one per interleaving. This is
*optimal DPOR* (Algorithm 2 of the paper): sleep sets, and at each decision a *wakeup tree* of
sequences still to run, instead of source-DPOR's set of threads. With exact dependences no
execution is ever equivalent to one already run, whatever the number of threads; where the model
is not exact an execution can still turn out to be "sleep-set blocked": it runs to its end (an
execution cannot be abandoned half-way) and is counted in ``DPOR.coverage()`` as ``redundant``, not as
a class. What it does not model is listed in ``docs/strategies.md``.

One module per job:

- :mod:`.strategy`: the :class:`DPOR` strategy (begin/choose/end), its decisions and sleep sets, and
  how the next execution follows a wakeup sequence;
- :mod:`.transitions`: one execution as DPOR sees it: the trace with the events it does not show
  (the standard library's internal locks, ``Condition.notify`` wake-ups), lock identities, and the
  cut into transitions;
- :mod:`.races`: happens-before (vector clocks) and the races between transitions;
- :mod:`.wakeup`: the wakeup trees and the insertion of a race's reversal in them;
- the dependence relation itself, shared with other strategies, is
  :mod:`interlace.strategies.dependence`.
"""

from __future__ import annotations

from .strategy import DPOR

__all__ = ["DPOR"]
