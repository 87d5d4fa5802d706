"""Happens-before and the races of one execution, between transitions.

Vector clocks order the transitions (:mod:`.transitions`) of an execution: program order, thread
start (all of the starter's transition before the started thread's first) and join (all of the
joined thread before what follows the join), lock release -> next acquire of the lock, a
``Condition.notify`` -> the waiter it woke (a sleep or a timeout that ends orders nothing: it may end
at any decision), and conflicts (:func:`~interlace.strategies.dependence.dependent`).

A race ``i -> j`` is two conflicting transitions of different threads, the first not ordered before
the second by anything else: the other order is a different trace, which DPOR must run (see
:mod:`.wakeup`). Two exceptions keep the races to what can be reversed: a transition of
happens-before edges only (a join, a wake-up) races with nothing, and an acquire never races with a
step inside a critical section of its own lock (it could not run there): the acquire that began the
critical section is reversed instead (this is what finds lost wake-ups and ABBA deadlocks). Locks are
known by their label, which two locks can share: every release of a label by every thread counts.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..dependence import EDGE_ONLY, LOCATED, base_of, dependent, same_lock
from .transitions import Transition, hb


def races(trans: list[Transition], names: dict[str, int]) -> Iterator[tuple[Transition, Transition, dict[int, int]]]:
    """Set the vector clock of every transition of ``trans`` (in order) and yield each race as
    ``(i, j, clock)``: ``clock`` is ``j``'s clock so far (what it is known to happen after when the
    race is found; it grows once the caller has handled the race). ``names``: thread name -> tid
    (a join names the thread it joins)."""
    last_of: dict[int, Transition] = {}
    starter: dict[int, Transition] = {}  # tid -> the transition that started it
    pending_join: dict[int, list[int]] = {}  # tid -> threads joined by its previous transition
    next_tid = 1
    # per location base and thread: (its transitions that access it, those that write or delete it)
    by_base: dict[str, dict[int, tuple[list[Transition], list[Transition]]]] = {}
    universal_last: dict[int, Transition] = {}  # tid -> its last call/sleep/unknown transition
    data_last: dict[int, Transition] = {}  # tid -> its last transition with an access or a call
    # Locks are known by their label (where they were made), which two locks can share: every
    # release of a label by every thread counts, and "held" may name another lock of the label.
    lock_release: dict[str, dict[int, tuple[Transition, Transition]]] = {}  # label -> tid -> (rel, acq)
    holding: dict[tuple[int, str], list[Transition]] = {}  # (tid, label) -> acquiring transitions
    for j in trans:
        prev = last_of.get(j.tid)
        clock = dict(prev.clock) if prev is not None else {}
        if prev is None and j.tid in starter:
            _join(clock, starter[j.tid].clock)
        for joined in pending_join.pop(j.tid, ()):
            other = last_of.get(joined)
            if other is not None:
                _join(clock, other.clock)
        for source in j.after:
            _join(clock, source.clock)
        clock[j.tid] = j.idx
        held = {label: list(acqs) for (tid, label), acqs in holding.items() if tid == j.tid and acqs}
        if held:
            j.held = held  # the locks its thread holds when j begins
        # the candidates for a direct conflict: the latest dependent transition of each thread
        is_universal = any(k not in LOCATED and k not in EDGE_ONLY and k != "acquire" for k, _ in j.ops)
        candidates: list[tuple[int, Transition, Transition]] = []  # (position, edge from, race target)
        # a transition of happens-before edges only (a join, a wake-up) commutes with everything
        edges_only = all(k in EDGE_ONLY for k, _ in j.ops)
        for u in last_of:
            if u == j.tid or edges_only:
                continue
            if is_universal:
                latest = data_last.get(u)
            else:
                latest = universal_last.get(u)
                for kind, what in j.ops:
                    if kind not in LOCATED:
                        continue
                    lists = by_base.get(base_of(what), {}).get(u)
                    if not lists:
                        continue
                    for t in reversed(lists[1] if kind == "read" else lists[0]):
                        if latest is not None and t.pos <= latest.pos:
                            break
                        if any(dependent(a, (kind, what)) for a in t.ops):
                            latest = t
                            break
            if latest is not None:
                candidates.append((latest.pos, latest, latest))
        for kind, what in j.ops:
            if kind == "acquire":
                for lock, by_thread in lock_release.items():
                    if same_lock(lock, what):
                        for tid, (rel, acq) in by_thread.items():
                            if tid != j.tid:
                                candidates.append((rel.pos, rel, acq))
        candidates.sort(key=lambda c: -c[0])
        acquires = [what for kind, what in j.ops if kind == "acquire"]
        for _, edge, target in candidates:
            if hb(edge, clock):
                continue
            inside = acquires and target.held and any(
                same_lock(lock, label) for label in acquires for lock in target.held)
            if not hb(target, clock) and not inside:
                # (j cannot go inside a critical section of the lock it acquires: see below)
                yield target, j, clock
            if acquires and target.held:
                # j cannot run inside a critical section of the lock it acquires: the reversal
                # has to go before the acquire that began it (maybe the same lock: same label)
                for label in acquires:
                    for lock, acqs in target.held.items():
                        if same_lock(lock, label):
                            for acq in acqs:
                                if not hb(acq, clock):
                                    yield acq, j, clock
            _join(clock, edge.clock)
        j.clock = clock
        # bookkeeping for later transitions
        for kind, what in j.ops:
            if kind == "start":
                starter[next_tid] = j
                next_tid += 1
            elif kind == "join" and what in names:
                pending_join.setdefault(j.tid, []).append(names[what])
            elif kind == "acquire":
                holding.setdefault((j.tid, what), []).append(j)
            elif kind == "release":
                stack = holding.get((j.tid, what))
                if stack:
                    lock_release.setdefault(what, {})[j.tid] = (j, stack.pop())
            elif kind in LOCATED:
                lists = by_base.setdefault(base_of(what), {}).setdefault(j.tid, ([], []))
                if not lists[0] or lists[0][-1] is not j:
                    lists[0].append(j)
                if kind != "read" and (not lists[1] or lists[1][-1] is not j):
                    lists[1].append(j)
        if is_universal:
            universal_last[j.tid] = j
        if is_universal or any(kind in LOCATED for kind, _ in j.ops):
            data_last[j.tid] = j
        last_of[j.tid] = j


def _join(into: dict[int, int], other: dict[int, int]) -> None:
    for tid, n in other.items():
        if into.get(tid, 0) < n:
            into[tid] = n
