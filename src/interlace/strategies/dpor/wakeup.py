"""Wakeup trees: the sequences still to run from a decision (Algorithm 2 of Abdulla et al., POPL 2014).

For a race ``i -> j`` (:mod:`.races`) the other order is run by the sequence ``v = notdep(i).j``: the
transitions after ``i`` that do not happen after it, then ``j``, from the decision before ``i``.
Unless a thread asleep there could start ``v`` (one of its *weak initials*, :func:`weak_initial`: its
first transition in ``v`` has nothing of another thread before it, or it has none in ``v`` and
commutes with all of it), ``v`` is inserted in that decision's wakeup tree, below the longest path of
the tree that ``v`` can start with (:func:`insert`); when the tree already holds a sequence that ``v``
can continue, nothing is added. The next execution follows the whole sequence, step by step, not just
its first thread; the branches of the tree below a step become the wakeup trees of the new decisions.
So with exact dependences no execution is equivalent to one already run, whatever the number of
threads.

A sequence whose first thread waits in ``Thread.start()`` where it has to go goes below a step that runs
only the new thread's handshake (:func:`helper`), which shows nothing in the trace.

A sequence here is a list of ``(transition, its vector clock)``; a step kept in a tree is a
:class:`Branch`, which names a transition by thread and index and keeps its operations without this
execution's lock identities (:func:`portable`), since trees outlive the execution that found them.
"""

from __future__ import annotations

from ..dependence import dependent
from .transitions import Transition, hb

Sequence = list[tuple[Transition, dict[int, int]]]


class Branch:
    """One step of a wakeup sequence: the ``idx``-th transition of thread ``tid``, which did ``ops``
    in the execution that found it; ``children`` are the steps that follow it (a wakeup tree)."""

    __slots__ = ("tid", "idx", "ops", "children")

    def __init__(self, tid: int, idx: int, ops: tuple) -> None:
        self.tid = tid
        self.idx = idx
        self.ops = ops
        self.children: list[Branch] = []


def insert(level: list[Branch], seq: Sequence) -> None:
    """Insert ``seq`` in the wakeup tree ``level`` (consumes ``seq``): follow the branches whose step
    ``seq`` can start with (a weak initial) and add the rest of ``seq`` below the longest such path,
    unless an equivalent sequence is already there. A step of no transition (:func:`helper`) is never
    followed: no sequence starts with it."""
    while True:
        for branch in level:
            if branch.ops and weak_initial(branch.tid, branch.ops, seq):
                at = next((n for n, (k, _) in enumerate(seq) if k.tid == branch.tid), None)
                if at is not None:
                    del seq[at]
                if not branch.children or not seq:
                    return  # an equivalent sequence is already there
                level = branch.children
                break
        else:
            for k, _ in seq:
                step = Branch(k.tid, k.idx, portable(k.ops))
                level.append(step)
                level = step.children
            return


def helper(level: list[Branch], tid: int) -> Branch:
    """The step of ``level`` that runs only what thread ``tid`` does before its first visible step (a
    thread start's handshake, which a thread blocked in ``Thread.start()`` waits for), made if needed:
    no operations (``ops`` empty), index 0 (done at once). It is no transition of its own, so no
    sequence can start with it (:func:`insert` never follows it), and it can run where its thread
    already ran."""
    for branch in level:
        if branch.tid == tid and not branch.ops:
            return branch
    branch = Branch(tid, 0, ())
    level.append(branch)
    return branch


def initials(seq: Sequence) -> list[int]:
    """Positions in ``seq`` of the transitions nothing earlier in ``seq`` happens before."""
    out = []
    seen: set[int] = set()
    for n, (k, clock) in enumerate(seq):
        if k.tid not in seen:
            seen.add(k.tid)
            if not any(hb(m, clock) for m, _ in seq[:n] if m.tid != k.tid):
                out.append(n)
    return out


def weak_initial(tid: int, ops: tuple, seq: Sequence) -> bool:
    """Whether thread ``tid`` (whose next step does ``ops``) can go first in an execution that
    extends ``seq`` (the paper's weak initials): its first transition in ``seq`` has nothing of
    another thread before it, or it has none and ``ops`` commute with all of ``seq``."""
    for n, (k, clock) in enumerate(seq):
        if k.tid == tid:
            return not any(hb(m, clock) for m, _ in seq[:n] if m.tid != tid)
    return not any(dependent(a, b) for a in ops for k, _ in seq for b in k.ops)


def portable(ops: list[tuple]) -> tuple:
    """``ops`` as a wakeup step keeps them for later executions: without the lock identities, which
    are ids of this execution's lock objects (a lock is then any lock of its label: a conflict more
    at worst)."""
    return tuple((kind, what.rpartition("#")[0]) if kind in ("acquire", "release") and "#" in str(what)
                 else (kind, what) for kind, what in ops)


def leaves(level: list[Branch]) -> int:
    """The number of sequences in a wakeup tree (without recursion: a sequence that reverses a race
    behind a long spin loop is thousands of steps deep)."""
    count, todo = 0, [level]
    while todo:
        for branch in todo.pop():
            if branch.children:
                todo.append(branch.children)
            else:
                count += 1
    return count
