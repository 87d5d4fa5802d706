"""The dependence relation: the single definition of "these two operations do not commute".

Two interleavings that differ only in the order of independent operations end in the same state.
Every strategy that reasons about which orders matter asks :func:`dependent`: DPOR (what is a race,
what wakes a sleeping thread, what a wakeup sequence commutes with) and POS (which pending operations
get fresh priorities). An operation is ``(kind, what)`` as the trace reports it.

Accesses of the same location conflict unless both are reads (``list[0]`` and ``list[1]`` are
different locations; a whole-container operation conflicts with all its items, and the writes of two
keys of a mapping conflict, since a new key resizes it under an iteration in progress); two acquires
of the same lock conflict, and so do two critical sections of one internal lock of the standard
library (``("internal", ident)``, a write of the primitive's state); operations ordered by
happens-before edges only (:data:`EDGE_ONLY`: a start, a join, a release) conflict with nothing; a
``sleep`` orders nothing (a sleeper may wake before or after any step of the others, see
``Execution._advance_time``): it is a read of the virtual clock (:data:`CLOCK`), which only the end of a
sleep or a timeout writes; a ``call`` into code interlace cannot see and an operation whose kind is
unknown (``None``, e.g. a wake-up inside ``Condition.wait`` before it shows) conflict with everything. Locations are
named by type and attribute (``Box.value``), so two objects of the same type are one location: a
sound over-approximation (more executions, never fewer).

Locks are named ``label`` (where the lock was made; several locks may share it) or ``label#identity``
(:func:`same_lock`).
"""

from __future__ import annotations

from typing import Any

ACCESS = frozenset({"read", "write", "delete"})
#: what conflicts by location: accesses, and the critical sections of the standard library's own locks
#: (``("internal", "Event@file.py:9#1.2")``: one write of a location named after the primitive's lock,
#: see ``runtime/patching._named``)
LOCATED = ACCESS | {"internal"}
#: operations ordered by happens-before edges, never by conflicts
EDGE_ONLY = frozenset({"start", "join", "release", "loop", "finish"})
#: the virtual clock as a location: a sleep reads it (its deadline is now + its length), a sleep or a
#: timeout that ends moves it (a write, see ``transitions.EventLog.hidden``)
CLOCK = "<virtual clock>"


def _split(what: str) -> tuple[str, str | None]:
    """``'dict["k"]'`` -> ``('dict', '"k"')``; ``'counter'`` -> ``('counter', None)``."""
    at = what.find("[")
    if at > 0 and what.endswith("]"):
        return what[:at], what[at + 1:-1]
    return what, None


def _same_location(a: str, b: str) -> bool:
    if a == b:
        return True
    base_a, key_a = _split(a)
    base_b, key_b = _split(b)
    if base_a != base_b:
        return False
    if key_a is None or key_b is None:
        return True  # the whole container and one of its items
    if key_a.isdigit() and key_b.isdigit():
        return False  # two different non-negative indices: setting one never moves the other
    # Different keys of a mapping still conflict: storing a new key resizes the dict, which an
    # iteration in progress sees (the iterator's steps are not accesses interlace reports).
    # Negative indices, slices, other keys may be the same item.
    return True


def dependent(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    """Whether two operations ``(kind, what)`` may not commute."""
    ka, wa = a
    kb, wb = b
    if ka == "sleep":
        ka, wa = "read", CLOCK
    if kb == "sleep":
        kb, wb = "read", CLOCK
    if ka in EDGE_ONLY or kb in EDGE_ONLY:
        return False
    if ka == "internal":
        ka = "write"  # the primitive's state, all of it behind its lock
    if kb == "internal":
        kb = "write"
    if ka in ACCESS and kb in ACCESS:
        if ka == "read" and kb == "read":
            return False
        return _same_location(str(wa), str(wb))
    if ka == "acquire" and kb == "acquire":
        return same_lock(wa, wb)
    if ka in ACCESS and kb == "acquire" or ka == "acquire" and kb in ACCESS:
        return False
    return True  # call, sleep, None, anything unknown


def same_lock(a: Any, b: Any) -> bool:
    """Locks are ``label`` (where made; several locks may share it) or ``label#identity`` (``#?``:
    one of the locks with that label, which one is unknown)."""
    if a == b:
        return True
    label_a, _, id_a = str(a).rpartition("#") if "#" in str(a) else (str(a), "", "?")
    label_b, _, id_b = str(b).rpartition("#") if "#" in str(b) else (str(b), "", "?")
    return label_a == label_b and (id_a == "?" or id_b == "?")


def base_of(what: Any) -> str:
    """The location a ``what`` belongs to, without its key: ``'dict["k"]'`` -> ``'dict'``."""
    return _split(str(what))[0]
