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
from functools import lru_cache
from typing import Any

from ..dependence import EDGE_ONLY, LOCATED, base_of, dependent, same_lock
from .transitions import Transition, hb


def races(trans: list[Transition], names: dict[str, int]) -> Iterator[tuple[Transition, Transition, dict[int, int]]]:
    """Set the vector clock of every transition of ``trans`` (in order) and yield each race as
    ``(i, j, clock)``: ``clock`` is ``j``'s clock so far (what it is known to happen after when the
    race is found; it grows once the caller has handled the race). ``names``: thread name -> tid
    (a join names the thread it joins).

    This runs after every DPOR execution, over every transition: what each transition's operations
    are (located or not, their location) is worked out once per transition, and the dependence and
    lock checks, which see the same few operations again and again, are cached (:func:`_dependent`)."""
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
    holding: dict[int, dict[str, list[Transition]]] = {}  # tid -> label -> acquiring transitions
    held_now: dict[int, dict[str, list[Transition]] | None] = {}  # tid -> a copy of what it holds
    for j in trans:
        jtid = j.tid
        ops = j.ops
        # what j does: accesses with their location base, acquires, and whether it is universal (a
        # call, a sleep, anything unknown: it conflicts with every access) or edges only
        located: list[tuple[str, Any, str]] = []
        acquires: list[Any] = []
        is_universal = False
        edges_only = True
        for kind, what in ops:
            if kind in EDGE_ONLY:
                continue
            edges_only = False
            if kind in LOCATED:
                located.append((kind, what, _base(what)))
            elif kind == "acquire":
                acquires.append(what)
            else:
                is_universal = True
        prev = last_of.get(jtid)
        clock = dict(prev.clock) if prev is not None else {}
        if prev is None and jtid in starter:
            _join(clock, starter[jtid].clock)
        for joined in pending_join.pop(jtid, ()):
            other = last_of.get(joined)
            if other is not None:
                _join(clock, other.clock)
        for source in j.after:
            _join(clock, source.clock)
        clock[jtid] = j.idx
        # the locks its thread holds when j begins (read only: shared by its transitions until the
        # thread acquires or releases a lock)
        held = held_now.get(jtid, False)
        if held is False:
            mine = holding.get(jtid, {})
            held = held_now[jtid] = {label: list(acqs) for label, acqs in mine.items() if acqs} or None
        if held:
            j.held = held
        # the candidates for a direct conflict: the latest dependent transition of each thread
        candidates: list[tuple[int, Transition, Transition]] = []  # (position, edge from, race target)
        # a transition of happens-before edges only (a join, a wake-up) commutes with everything
        if not edges_only:
            if is_universal:
                for u in last_of:
                    if u != jtid:
                        latest = data_last.get(u)
                        if latest is not None:
                            candidates.append((latest.pos, latest, latest))
            else:
                bases = [(by_base.get(base), kind, what) for kind, what, base in located]
                for u in last_of:
                    if u == jtid:
                        continue
                    latest = universal_last.get(u)
                    for per_thread, kind, what in bases:
                        if not per_thread:
                            continue
                        lists = per_thread.get(u)
                        if not lists:
                            continue
                        op = (kind, what)
                        for t in reversed(lists[1] if kind == "read" else lists[0]):
                            if latest is not None and t.pos <= latest.pos:
                                break
                            if _conflicts(t.ops, op):
                                latest = t
                                break
                    if latest is not None:
                        candidates.append((latest.pos, latest, latest))
        for what in acquires:
            for lock, by_thread in lock_release.items():
                if _same_lock(lock, what):
                    for tid, (rel, acq) in by_thread.items():
                        if tid != jtid:
                            candidates.append((rel.pos, rel, acq))
        if len(candidates) > 1:
            candidates.sort(key=_first, reverse=True)  # stable: equal positions keep their order
        for _, edge, target in candidates:
            if clock.get(edge.tid, 0) >= edge.idx:  # hb(edge, clock)
                continue
            target_held = target.held if acquires else None
            inside = target_held and any(
                _same_lock(lock, label) for label in acquires for lock in target_held)
            if not clock.get(target.tid, 0) >= target.idx and not inside:
                # (j cannot go inside a critical section of the lock it acquires: see below)
                yield target, j, clock
            if target_held:
                # j cannot run inside a critical section of the lock it acquires: the reversal
                # has to go before the acquire that began it (maybe the same lock: same label)
                for label in acquires:
                    for lock, acqs in target_held.items():
                        if _same_lock(lock, label):
                            for acq in acqs:
                                if not hb(acq, clock):
                                    yield acq, j, clock
            _join(clock, edge.clock)
        j.clock = clock
        # bookkeeping for later transitions
        for kind, what in ops:
            if kind == "start":
                starter[next_tid] = j
                next_tid += 1
            elif kind == "join" and what in names:
                pending_join.setdefault(jtid, []).append(names[what])
            elif kind == "acquire":
                holding.setdefault(jtid, {}).setdefault(what, []).append(j)
                held_now.pop(jtid, None)
            elif kind == "release":
                stack = holding.get(jtid, {}).get(what)
                if stack:
                    lock_release.setdefault(what, {})[jtid] = (j, stack.pop())
                    held_now.pop(jtid, None)
        for kind, _, base in located:
            lists = by_base.setdefault(base, {}).setdefault(jtid, ([], []))
            if not lists[0] or lists[0][-1] is not j:
                lists[0].append(j)
            if kind != "read" and (not lists[1] or lists[1][-1] is not j):
                lists[1].append(j)
        if is_universal:
            universal_last[jtid] = j
        if is_universal or located:
            data_last[jtid] = j
        last_of[jtid] = j


def _first(candidate: tuple[int, Transition, Transition]) -> int:
    return candidate[0]


@lru_cache(maxsize=1 << 16)
def _dependent(a: tuple, b: tuple) -> bool:
    return dependent(a, b)


def _conflicts(ops: list[tuple], op: tuple) -> bool:
    """Whether any of ``ops`` is dependent with ``op``."""
    for a in ops:
        if _dependent(a, op):
            return True
    return False


@lru_cache(maxsize=1 << 14)
def _same_lock(a: Any, b: Any) -> bool:
    return same_lock(a, b)


@lru_cache(maxsize=1 << 14)
def _base(what: Any) -> str:
    return base_of(what)


def _join(into: dict[int, int], other: dict[int, int]) -> None:
    for tid, n in other.items():
        if into.get(tid, 0) < n:
            into[tid] = n
