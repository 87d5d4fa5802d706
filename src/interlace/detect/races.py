"""Happens-before data race detection, FastTrack style (Flanagan & Freund, PLDI 2009).

Every thread has a vector clock; locks carry the clock of their last release; thread start and
join, and lock release -> acquire, order events. Condition, Event, Semaphore, Barrier, Queue, Future
and Timer are built on the controlled locks, so their happens-before edges (notify -> woken wait,
put -> get, set_result -> result, ...) arrive as lock edges without extra code.

Each location (object + name/key) remembers its last write as an epoch ``(tid, clock)`` and its
reads since then, one epoch per reading thread. Two conflicting accesses (at least one a write) not
ordered by happens-before are a data race, reported from a single execution even when the program
does not fail. Two method calls of a builtin container (``append`` and ``append``) are each atomic
and do not race with each other.
"""

from __future__ import annotations

import _thread
import linecache
import os
import sys
import types
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .stacks import Frame, capture, format_stack
from .vectorclock import VectorClock

_WHOLE = "*"
_thread_local = _thread._local
_WHOLE_CONTAINERS = (set, frozenset)  # no per-item locations: every access is to the whole set
_KEYED_CONTAINERS = (dict, list, bytearray)  # per-key/index locations, plus one for the whole
IGNORE_COMMENT = "interlace: ignore-race"


@dataclass(slots=True)
class Access:
    """One access, as a detector remembers it."""

    tid: int
    thread: str
    kind: str  # read / write / delete
    what: str
    site: tuple
    clock: int
    number: int  # position among the accesses of its thread
    atomic: bool
    stack: tuple[Frame, ...]
    line: tuple  # (filename, lineno) of site
    #: [switch points before the first access of its statement, before the last, accesses]: the
    #: accesses of one thread to one location within one statement (see RaceDetector._gil_verdict)
    run: list

    def describe(self) -> str:
        return f"{self.kind} of {self.what} by thread {self.thread!r} at {_loc(self.site)}"


@dataclass
class Race:
    """Two conflicting accesses not ordered by happens-before."""

    what: str
    origin: str
    current: Access
    previous: Access
    started: dict[str, str] = field(default_factory=dict)
    gil: bool | None = None  # can it manifest under this interpreter's GIL?
    gil_reason: str = ""
    suppressed: bool = False
    execution: int | None = None

    def key(self) -> frozenset:
        """Races are deduplicated by the pair of code locations."""
        return frozenset({_site_key(self.current.site), _site_key(self.previous.site)})

    def summary(self) -> str:
        return (f"DATA RACE on {self.what}: {self.current.kind} at {_loc(self.current.site)} "
                f"({self.current.thread}) vs {self.previous.kind} at {_loc(self.previous.site)} "
                f"({self.previous.thread})")

    def format(self) -> str:
        lines = [f"DATA RACE on {self.what}" + (f" ({self.origin})" if self.origin else "")]
        for label, a in (("", self.current), ("previous ", self.previous)):
            lines.append(f"  {label}{a.describe()}:")
            lines.append(format_stack(a.stack, "    ") or f"    {_loc(a.site)}")
        for thread, where in self.started.items():
            lines.append(f"  thread {thread!r} was started at {where}")
        if self.gil_reason:
            lines.append(f"  {self.gil_reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        def access(a: Access) -> dict[str, Any]:
            return {"kind": a.kind, "thread": a.thread, "file": a.site[0], "line": a.site[1],
                    "stack": [{"file": f, "line": n, "function": fn} for f, n, fn in a.stack]}

        return {"what": self.what, "origin": self.origin, "current": access(self.current),
                "previous": access(self.previous), "threads_started_at": self.started,
                "manifests_under_gil": self.gil, "gil": self.gil_reason, "suppressed": self.suppressed}


class _Step:
    """What the statement tracking needs of an access the same-epoch rule left out."""

    __slots__ = ("number", "line", "kind", "run")

    def __init__(self, number: int, line: tuple, kind: str, run: list) -> None:
        self.number = number
        self.line = line
        self.kind = kind
        self.run = run


#: at most this many objects that cannot be weakly referenced are kept alive by one detector
MAX_KEPT = 100_000


def _died(dead: list, oid: int, _ref: Any) -> None:
    dead.append(oid)  # from whichever thread dropped the object: the detector purges it before its next lookup


#: how the accesses to an object of a type name their location
_OTHER, _SKIP, _MODULE, _WHOLE_ONLY, _INDEXED, _DICT = range(6)
_TYPES: dict[type, tuple[int, bool]] = {}


def _type_info(tp: type) -> tuple[int, bool]:
    """``(category, keyed)`` for a type: keyed containers have a location per key plus the whole."""
    if issubclass(tp, _thread_local):
        category = _SKIP
    elif tp is types.ModuleType:
        category = _MODULE
    elif issubclass(tp, _WHOLE_CONTAINERS) or tp.__name__ == "deque":
        category = _WHOLE_ONLY  # no per-item locations: every access is to the whole container
    elif issubclass(tp, (list, bytearray)):
        category = _INDEXED
    elif tp is dict:
        category = _DICT
    else:
        category = _OTHER
    info = _TYPES[tp] = (category, issubclass(tp, _KEYED_CONTAINERS))
    return info


class StackProbe:
    """An observer for a replay of an execution: captures the stacks of the accesses ``wanted``,
    named by (thread, number among the thread's accesses) as :class:`RaceDetector` numbers them."""

    def __init__(self, wanted: set[tuple[int, int]]) -> None:
        self.wanted = wanted
        self.found: dict[tuple[int, int], tuple[Frame, ...]] = {}
        self.ordinals: dict[int, int] = {}

    def begin(self, ex: Any) -> None:
        self.found, self.ordinals = {}, {}

    def end(self, ex: Any) -> None:
        pass

    def sync(self, *args: Any) -> None:
        pass

    def access(self, ex: Any, ts: Any, kind: str, obj: Any, key: Any, site: tuple, atomic: bool) -> None:
        if (_TYPES.get(type(obj)) or _type_info(type(obj)))[0] == _SKIP:
            return  # not counted by the detector either
        t = ts.tid
        number = ex.access_number(ts)
        if (t, number) in self.wanted:
            self.found[(t, number)] = capture()


def _site_key(site: tuple) -> tuple:
    return (site[0], site[1])


def _loc(site: tuple | None) -> str:
    return f"{os.path.basename(site[0])}:{site[1]}" if site else "?"


class _Location:
    __slots__ = ("write", "reads", "what")

    def __init__(self, what: str) -> None:
        self.write: Access | None = None
        self.reads: dict[int, Access] = {}
        self.what = what


class RaceDetector:
    """An execution observer (see ``Execution.observers``); one instance serves many executions.

    ``stacks``: capture the stack of every access as it happens (``True``), or none (``False``): an
    execution that can be run again exactly (a controlled one) gets the stacks of its racing accesses
    afterwards, from a replay with a :class:`StackProbe` (see :meth:`take_stackless`). Capturing a
    stack is about a third of the detector's cost per access.
    """

    def __init__(self, ignore: tuple[str, ...] = (), stacks: bool = True) -> None:
        self.ignore = tuple(ignore)
        self.stacks = stacks
        self.races: list[Race] = []  # new, distinct races found by the last execution
        self.seen: set[frozenset] = set()
        self.suppressed = 0
        self.stackless: dict[tuple[int, int], list[Access]] = {}  # (tid, number) -> accesses to complete
        #: called with each new race that is not suppressed, as soon as it is found (``interlace run``
        #: prints it then: a long run shows its races as they happen, not at its end)
        self.on_race: Any = None
        self._reset()

    def _reset(self) -> None:
        self.clocks: list[VectorClock] = []
        self.lock_clocks: dict[int, tuple[Any, VectorClock]] = {}
        self.handoff_clocks: dict[tuple, VectorClock] = {}
        self.locations: dict[tuple, _Location] = {}
        # Objects are known by id(). An object that can be weakly referenced is not kept alive (the
        # program's weak references and finalizers work as usual): when it dies its locations go, so a
        # new object with the same id starts fresh. The others (builtin containers, cell keys) are kept
        # alive, at most MAX_KEPT of them, the oldest forgotten first.
        self.objects: dict[int, list[tuple]] = {}  # id -> its locations
        self.keep: dict[int, Any] = {}  # id -> the object, or a weak reference to it
        self.kept: dict[int, None] = {}  # ids kept alive, oldest first
        self.dead: list[int] = []  # ids whose object died since the last access
        self.dict_owners: dict[int, Any] = {}  # id of an object's __dict__ -> (a weak reference to) the object
        self.last: dict[tuple, Access | _Step] = {}  # (tid, location) -> that thread's latest access to it
        self.ordinals: dict[int, int] = {}
        self.first_seen: dict[int, tuple] = {}
        self.started: dict[int, str] = {}
        self.pending: list[tuple[Race, tuple]] = []

    # -- execution lifecycle ---------------------------------------------------------------------------

    def begin(self, ex: Any) -> None:
        self._reset()
        self.races = []

    def end(self, ex: Any) -> None:
        for race, lk in self.pending:
            race.gil, race.gil_reason = self._gil_verdict(race, lk)
        self.pending = []

    def clock(self, tid: int) -> VectorClock:
        clocks = self.clocks
        while len(clocks) <= tid:
            vc = VectorClock()
            vc.set(len(clocks), 1)
            clocks.append(vc)
        return clocks[tid]

    # -- synchronisation -------------------------------------------------------------------------------

    def sync(self, ex: Any, kind: str, ts: Any, obj: Any) -> None:
        t = ts.tid
        if kind == "acquire":
            held = self.lock_clocks.get(id(obj))
            if held is not None:
                self.clock(t).join(held[1])
        elif kind == "release":
            c = self.clock(t)
            self.lock_clocks[id(obj)] = (obj, c.copy())
            c.tick(t)
        elif kind == "start":
            parent = self.clock(t)
            child = self.clock(obj.tid)
            child.join(parent)
            parent.tick(t)
            site = ts.site
            self.started[obj.tid] = _loc(site) if site else "?"
        elif kind == "join":
            self.clock(t).join(self.clock(obj.tid))
        elif kind == "signal":  # a hand-off: everything before it happens before the matching wait
            c = self.clock(t)
            entry = self.handoff_clocks.get(obj)
            if entry is None:
                self.handoff_clocks[obj] = c.copy()
            else:
                entry.join(c)
            c.tick(t)
        elif kind == "wait":
            entry = self.handoff_clocks.get(obj)
            if entry is not None:
                self.clock(t).join(entry)

    # -- accesses --------------------------------------------------------------------------------------

    def access(self, ex: Any, ts: Any, kind: str, obj: Any, key: Any, site: tuple, atomic: bool) -> None:
        if self.dead:
            self._forget_dead()
        # On the path of every shared access: one type lookup decides how the location is named.
        category, keyed = _TYPES.get(type(obj)) or _type_info(type(obj))
        if category == _OTHER:
            if key == "__dict__" and kind == "read":
                self._note_dict(obj)
        elif category == _SKIP:
            return  # a threading.local: each thread sees its own attributes
        elif category == _MODULE:
            obj = obj.__dict__
            keyed = True
        elif category == _WHOLE_ONLY:
            key = _WHOLE
        elif category == _INDEXED:
            if not (type(key) is int and key >= 0):
                key = _WHOLE  # slices and negative indices: the whole list
        else:  # a plain dict: maybe an object's __dict__, which is that object's attributes
            owner = self.dict_owners.get(id(obj))
            if owner is not None:
                if type(owner) is weakref.ref:
                    owner = owner()
                if owner is not None and getattr(owner, "__dict__", None) is obj:
                    obj = owner
                    keyed = (_TYPES.get(type(obj)) or _type_info(type(obj)))[1]
                else:
                    del self.dict_owners[id(obj)]  # the owner is gone; this dict is another one
        try:
            lk = (id(obj), key)
            location = self.locations.get(lk)
        except TypeError:
            key = _WHOLE
            lk = (id(obj), key)
            location = self.locations.get(lk)
        if location is None:
            location = self.locations[lk] = _Location(ex.describe(obj, key) if key != _WHOLE
                                                       else type(obj).__name__)
            oid = id(obj)
            known = self.objects.get(oid)
            if known is None:
                known = self.objects[oid] = []
                self._keep(oid, obj)
                self.first_seen[oid] = site
            known.append(lk)
        t = ts.tid
        clocks = self.clocks
        c = clocks[t] if t < len(clocks) else self.clock(t)
        cc = c.c
        epoch = cc[t] if t < len(cc) else 0
        ordinal = ex.access_number(ts)
        # the statement this access belongs to, for the GIL verdict (see _gil_verdict)
        line = (site[0], site[1])
        before = self.last.get((t, lk))
        if (before is not None and before.number == ordinal - 1 and before.line == line
                and not (before.kind != "read" and kind == "read")):
            run = before.run
            run[1] = ex.gil_clock(ts)
            run[2] += 1
        else:
            gil_clock = ex.gil_clock(ts)
            run = [gil_clock, gil_clock, 1]
        write = kind != "read"
        # FastTrack's same-epoch rule: this thread made the same access at the same place since its
        # last synchronisation and the location has not changed hands since; nothing new can race.
        same = location.write if write else location.reads.get(t)
        if (same is not None and same.tid == t and same.clock == epoch and same.line == line
                and same.kind == kind and same.atomic == atomic and not (write and location.reads)):
            self.last[(t, lk)] = _Step(ordinal, line, kind, run)
            return
        access = Access(t, ts.name, kind, location.what, site, epoch, ordinal, atomic,
                        capture() if self.stacks else (), line, run)
        self.last[(t, lk)] = access
        w = location.write
        if w is not None and w.tid != t and w.clock > (cc[w.tid] if w.tid < len(cc) else 0) \
                and not (w.atomic and atomic):
            self._race(ex, location, lk, access, w)
        if write:
            for r in location.reads.values():
                if r.tid != t and r.clock > (cc[r.tid] if r.tid < len(cc) else 0) and not (r.atomic and atomic):
                    self._race(ex, location, lk, access, r)
        if keyed:
            if key == _WHOLE:
                for k in self.objects.get(id(obj), ()):
                    if k != lk:
                        other = self.locations.get(k)
                        if other is not None:
                            self._check(ex, other, lk, access, c, write)
            else:
                whole = self.locations.get((id(obj), _WHOLE))
                if whole is not None:
                    self._check(ex, whole, lk, access, c, write)
        if write:
            location.write = access
            location.reads = {}
        else:
            location.reads[t] = access

    def _check(self, ex: Any, loc: _Location, lk: tuple, access: Access, c: VectorClock, write: bool) -> None:
        w = loc.write
        if w is not None and w.tid != access.tid and w.clock > c.get(w.tid) and not (w.atomic and access.atomic):
            self._race(ex, loc, lk, access, w)
        if write:
            for r in loc.reads.values():
                if r.tid != access.tid and r.clock > c.get(r.tid) and not (r.atomic and access.atomic):
                    self._race(ex, loc, lk, access, r)

    def _note_dict(self, obj: Any) -> None:
        """``obj.__dict__`` was read: accesses to that dict are accesses to ``obj``'s attributes."""
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            try:
                self.dict_owners[id(d)] = weakref.ref(obj)
            except TypeError:
                self.dict_owners[id(d)] = obj

    def _keep(self, oid: int, obj: Any) -> None:
        try:
            self.keep[oid] = weakref.ref(obj, partial(_died, self.dead, oid))
        except TypeError:
            self.keep[oid] = obj
            self.kept[oid] = None
            if len(self.kept) > MAX_KEPT:
                self._forget(next(iter(self.kept)))

    def _forget_dead(self) -> None:
        dead = self.dead
        while dead:
            self._forget(dead.pop())  # one at a time: another thread may append meanwhile

    def _forget(self, oid: int) -> None:
        """Drop everything known about the object with id ``oid`` (it died, or is the oldest kept)."""
        threads = range(len(self.clocks))
        for lk in self.objects.pop(oid, ()):
            self.locations.pop(lk, None)
            for t in threads:
                self.last.pop((t, lk), None)
        self.keep.pop(oid, None)
        self.kept.pop(oid, None)
        self.first_seen.pop(oid, None)

    # -- reporting -------------------------------------------------------------------------------------

    def _race(self, ex: Any, loc: _Location, lk: tuple, current: Access, previous: Access) -> None:
        race = Race(loc.what, self._origin(lk), current, previous)
        key = race.key()
        if key in self.seen:
            return
        self.seen.add(key)
        for tid in (current.tid, previous.tid):
            if tid in self.started:
                race.started[ex.threads[tid].name] = self.started[tid]
        race.suppressed = self._suppressed(race)
        if race.suppressed:
            self.suppressed += 1
        self.races.append(race)
        self.pending.append((race, lk))
        if self.on_race is not None and not race.suppressed:
            self.on_race(race)
        if not self.stacks:
            for a in (current, previous):
                self.stackless.setdefault((a.tid, a.number), []).append(a)

    def take_stackless(self) -> dict[tuple[int, int], list[Access]]:
        """The reported accesses of the last execution still without a stack, by (thread, number),
        for :class:`StackProbe`; forgotten here."""
        taken, self.stackless = self.stackless, {}
        return taken

    def _origin(self, lk: tuple) -> str:
        obj = self.keep.get(lk[0])
        if type(obj) is weakref.ref:
            obj = obj()
        if isinstance(obj, dict) and "__builtins__" in obj:
            name = obj.get("__name__", "?")
            return f"global of module {name}"
        if isinstance(obj, tuple) and len(obj) == 4:
            return f"closure variable of {obj[2]}() at {os.path.basename(obj[0])}:{obj[1]}"
        site = self.first_seen.get(lk[0])
        return f"object first used at {_loc(site)}" if site else ""

    def _suppressed(self, race: Race) -> bool:
        for a in (race.current, race.previous):
            if IGNORE_COMMENT in linecache.getline(a.site[0], a.site[1]):
                return True
        from fnmatch import fnmatch

        names = [race.what] + [f"{os.path.basename(a.site[0])}:{a.site[1]}" for a in (race.current, race.previous)]
        names += [f"{a.site[0]}:{a.site[1]}" for a in (race.current, race.previous)]
        return any(fnmatch(n, pattern) for pattern in self.ignore for n in names)

    def _gil_verdict(self, race: Race, lk: tuple) -> tuple[bool, str]:
        """Can the race manifest under the GIL of this interpreter?

        The racing sequence is the run of accesses to the location made by one thread within one
        statement (the read and the write of ``counter = counter + 1``). Under the GIL of CPython
        3.10+, another thread can run inside it only if it contains a switch point (a call, a loop
        back-edge or a blocking operation).
        """
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        is_gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)
        if not is_gil_enabled():
            return True, f"This interpreter (Python {version}) is free-threaded: the race can manifest here."
        sequences = []
        for a in (race.previous, race.current):
            first, last, accesses = a.run
            if accesses > 1:
                sequences.append((a, last - first))
        if any(switches > 0 for _a, switches in sequences):
            a = next(a for a, s in sequences if s > 0)
            return True, (f"Under the GIL of Python {version} the race can manifest: thread {a.thread!r} can be "
                          f"switched out between its accesses to {race.what} at {_loc(a.site)} (a call or a "
                          "loop back-edge lies between them).")
        if len(sequences) == 2:
            return False, (f"Under the GIL of Python {version} it cannot manifest: each thread's accesses to "
                           f"{race.what} within one statement run with no switch point between them. It can "
                           "on free-threaded builds (3.13t and later) and on Python 3.9 and earlier.")
        # one side is a lone access: which of the two comes first depends on where the GIL switches
        return True, (f"Under the GIL of Python {version} the race can manifest: the order of these two "
                      "accesses depends on where the interpreter switches threads.")
