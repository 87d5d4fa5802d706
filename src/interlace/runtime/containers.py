"""Which objects are mutable builtin containers, whose items interlace names as shared locations.

A subclass (``OrderedDict``, ``Counter``, ``defaultdict``, a program's ``class Cache(dict)``) holds its
items in the builtin container it extends, and the builtin methods it inherits change them the same
way: its ``in``, iteration, ``pop`` and ``clear`` are accesses like a plain dict's. Without this, a
check-then-act on a ``Counter`` or on a user's dict subclass was never seen.
"""

from __future__ import annotations

import collections

#: the builtin containers interlace knows the methods of (runtime/calls.py), most specific first
KNOWN = (collections.OrderedDict, collections.defaultdict, collections.Counter, list, dict, set, bytearray,
         collections.deque)

#: a type -> the known container it is or extends (None: not a container); filled as types are met
BASES: dict[type, type | None] = {tp: tp for tp in KNOWN}


def container_base(tp: type) -> type | None:
    """The known container type that ``tp`` is or extends, the most specific in its method order."""
    try:
        return BASES[tp]
    except KeyError:
        base = BASES[tp] = next((klass for klass in tp.__mro__ if klass in KNOWN), None)
        return base
