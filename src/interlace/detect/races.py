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

Every access of a location is one atomic operation of the interpreter (free-threaded CPython takes a
per-object lock for it): a write *publishes* (the writer's clock is left on the location, then the
writer ticks) and every later access of the location *obtains* what was published (its clock joins
it). An object built and then handed over through one store (``items.append(obj)``, ``d[k] = obj``,
``self.obj = obj``) is therefore seen whole by the thread that gets the reference.

What fails a run is an *atomicity violation* (see :meth:`RaceDetector._atomicity`): a thread read a
location and later, with no synchronisation of its own in between, wrote it (``n = n + 1``, ``if k
not in d: d[k] = v``, ``if q: q.popleft()``), and another thread's write could fall between the two
(a lost update; a check invalidated before its act), or another thread makes the same check and could
make it before that act. The happens-before used for that ignores what the read itself obtained from
the location (else a serial run of two increments would look ordered), so these are predicted from
executions in which they did not happen. Every other race (a flag written once and polled, the
unlocked first read of double-checked locking, a lock-free peek) is a *note*: reported with both
stacks, it does not fail the run.
"""

from __future__ import annotations

import _thread
import collections
import linecache
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any

from ..runtime.describe import is_cell_key
from . import lifetimes
from .functions import same_function
from .stacks import Frame, capture, format_stack, share_caches
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
    key: Any  # the location's key ("*": the whole container), to tell which locations conflict
    #: the accesses of one thread to one location within one statement (see RaceDetector._gil_verdict):
    #: None if this is the only one; else, shared by the accesses of the run, [switch points before the
    #: first, before the last, accesses] (most runs have one access, and the verdict needs no count of a
    #: run of one: a list and an int for each cost 100 threads reading 10,000 objects 300 MB)
    run: list | None
    task: bool = False  # made by an asyncio task (see runtime/eventloop.py)

    @property
    def who(self) -> str:
        return f"{'task' if self.task else 'thread'} {self.thread!r}"

    def describe(self) -> str:
        return f"{self.kind} of {self.what} by {self.who} at {_loc(self.site)}"


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
    #: "lost update" or "check-then-act" (an atomicity violation: fails the run), or "" (a note)
    violation: str = ""
    why: str = ""

    @property
    def note(self) -> bool:
        """A race that cannot break an atomic step of the program: reported, never a failure."""
        return not self.violation

    @property
    def fails(self) -> bool:
        """Whether this race makes a run fail (with ``races="error"``)."""
        return not self.suppressed and not self.note

    def key(self) -> frozenset:
        """Races are deduplicated by the pair of code locations (a violation replaces a note)."""
        return _pair_key(self.current, self.previous)

    def title(self) -> str:
        if self.violation:
            return f"DATA RACE ({self.violation})"
        return "NOTE: benign data race"

    def summary(self) -> str:
        return (f"{self.title()} on {self.what}: {self.current.kind} at {_loc(self.current.site)} "
                f"({self.current.thread}) vs {self.previous.kind} at {_loc(self.previous.site)} "
                f"({self.previous.thread})")

    def format(self) -> str:
        lines = [f"{self.title()} on {self.what}" + (f" ({self.origin})" if self.origin else "")]
        if self.why:
            lines.append(f"  {self.why}")
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
                "manifests_under_gil": self.gil, "gil": self.gil_reason, "suppressed": self.suppressed,
                "severity": "note" if self.note else "error", "violation": self.violation, "why": self.why}


class _Step:
    """What the statement tracking needs of an access the same-epoch rule left out."""

    __slots__ = ("number", "line", "kind", "run")

    def __init__(self, number: int, line: tuple, kind: str, run: list | None) -> None:
        self.number = number
        self.line = line
        self.kind = kind
        self.run = run


#: at most this many objects are known to one detector at a time, the oldest forgotten first (nothing
#: tells the detector that an object died: see RaceDetector._reset)
MAX_KEPT = 100_000

#: dict keys of these types are kept as they are in the detector's location names (keeping them alive
#: changes nothing the program can see); any other key is named by its id
_VALUE_KEYS = frozenset({str, int, float, bool, bytes, complex, type(None)})


class _Ident:
    """A dict key named by identity, so that the detector keeps no program object alive through it."""

    __slots__ = ("ident",)

    def __init__(self, ident: int) -> None:
        self.ident = ident

    def __eq__(self, other: object) -> bool:
        return type(other) is _Ident and other.ident == self.ident

    def __hash__(self) -> int:
        return hash(("_Ident", self.ident))


def _key_of(key: Any) -> Any:
    """A dict key as the detector keeps it: plain values as they are, a tuple item by item (two
    ``(self, name)`` keys built apart are one location), anything else by identity (a user object's
    default equality)."""
    tp = type(key)
    if tp in _VALUE_KEYS:
        return key
    if tp is tuple:
        return tuple(_key_of(k) for k in key)
    return _Ident(id(key))


def _instance_dict(obj: Any) -> Any:
    """``obj``'s own attribute mapping without running any of the program's code (None: it has none)."""
    try:
        return object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return None


def _type_defines(tp: type, name: str) -> bool:
    return any(name in vars(klass) for klass in tp.__mro__)


#: how the accesses to an object of a type name their location
_OTHER, _SKIP, _MODULE, _WHOLE_ONLY, _INDEXED, _DICT, _SUBCLASS = range(7)
_TYPES: dict[type, tuple[int, bool]] = {}
#: a subclass of a builtin container -> ``(category, keyed)`` of its items (see _SUBCLASS)
_ITEMS_OF: dict[type, tuple[int, bool]] = {}
_BUILTIN_CONTAINERS = (list, dict, set, frozenset, bytearray, collections.deque)


def _container_info(tp: type) -> tuple[int, bool] | None:
    """``(category, keyed)`` of the items of a builtin container type or a subclass of one."""
    if issubclass(tp, _WHOLE_CONTAINERS) or issubclass(tp, collections.deque):
        return _WHOLE_ONLY, False  # no per-item locations: every access is to the whole container
    if issubclass(tp, (list, bytearray)):
        return _INDEXED, True
    if issubclass(tp, dict):
        return _DICT, True
    return None


def _type_info(tp: type) -> tuple[int, bool]:
    """``(category, keyed)`` for a type: keyed containers have a location per key plus the whole.

    A subclass of a builtin container (``OrderedDict``, ``Counter``, ``defaultdict``, a user's ``class
    Cache(dict)``) is :data:`_SUBCLASS`: its items are a container's (a ``pop`` between ``if k in d``
    and ``d[k]`` breaks the check), its attributes an object's (see :func:`_attribute`)."""
    container = _container_info(tp)
    if issubclass(tp, _thread_local):
        info = (_SKIP, False)
    elif tp is types.ModuleType:
        info = (_MODULE, False)
    elif container is not None and tp not in _BUILTIN_CONTAINERS:
        _ITEMS_OF[tp] = container
        info = (_SUBCLASS, False)
    else:
        info = container or (_OTHER, False)
    _TYPES[tp] = info
    return info


class _Attr:
    """The key of an attribute of a container subclass's instance: a location of its own, apart from
    the item of the same name and from the whole container."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return type(other) is _Attr and other.name == self.name

    def __hash__(self) -> int:
        return hash(("_Attr", self.name))


_DEFINES: dict[tuple[type, str], bool] = {}


def _attribute(obj: Any, key: Any) -> bool:
    """Whether an access of ``obj`` (an instance of a container subclass) by ``key`` is one of its
    attributes, not an item: the hooks name both by ``(obj, key)``. An attribute is a string that the
    instance's ``__dict__`` holds or its type defines (a method, a property, a slot,
    ``default_factory``). A constructor's first store of an attribute comes before the attribute
    exists, and is taken for an item's."""
    if type(key) is not str or key == _WHOLE:
        return False
    own = _instance_dict(obj)
    if own is not None and key in own:
        return True
    tp = type(obj)
    defines = _DEFINES.get((tp, key))
    if defines is None:
        defines = _DEFINES[(tp, key)] = _type_defines(tp, key)
    return defines


class StackProbe:
    """An observer for a replay of an execution: captures the stacks of the accesses ``wanted``,
    named by (thread, number among the thread's accesses) as :class:`RaceDetector` numbers them, and
    is told no access after the last of them."""

    def __init__(self, wanted: set[tuple[int, int]]) -> None:
        self.wanted = wanted
        self.found: dict[tuple[int, int], tuple[Frame, ...]] = {}

    def begin(self, ex: Any) -> None:
        self.found = {}

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
            if len(self.found) == len(self.wanted):
                ex.stop_telling(self)


def _same_loop(ex: Any, t: int, u: int) -> bool:
    """Whether ``t`` and ``u`` are units of one asyncio event loop (its tasks, and the thread running it
    for its own callbacks): the steps of such units never overlap, and each begins with a
    synchronisation (the callback's scheduling), so what one unit does between two synchronisations
    is atomic for the others."""
    a, b = ex.threads[t], ex.threads[u]
    return (a.task is not None or b.task is not None) and a.ident is not None and a.ident == b.ident


def _apart(ex: Any) -> bool:
    """Whether the execution has had more than one OS thread. While it has not, every unit that has
    accessed anything is its main thread or a task of a loop that thread runs, so any two are
    :func:`_same_loop` and no atomicity violation can be found: the scans for one are skipped (each
    costs a pass over the other units' entries), what they would scan is still kept."""
    return getattr(ex, "os_threads", len(ex.threads)) > 1  # detector-only mode: every state is a thread


def _kind_of(check: Access, act: Access) -> str:
    """Two threads that can both read before either writes: in one statement (``n = n + 1``), a lost
    update; in two, a check then an act. (Another thread's write between a read and a write is a lost
    update either way: it is overwritten.)"""
    return "lost update" if check.line == act.line else "check-then-act"


#: (type, attribute name) -> whether the type's attribute of that name is a ``property`` (see _is_property)
_PROPERTIES: dict[tuple[type, str], bool] = {}


def _is_property(tp: type, name: str) -> bool:
    """Whether ``obj.name`` of an instance of ``tp`` calls a property (found on the type first, as
    Python finds it). Such an access is a call, not a location: its getter, setter or deleter does the
    real accesses (they are instrumented, and race or not as they are synchronised: a setter that checks
    and writes under a lock is atomic, which a location named after the property would not know).
    (interlace._races asks the type the same question: change both.)"""
    verdict = False
    for klass in tp.__mro__:
        found = klass.__dict__.get(name, _ABSENT)
        if found is not _ABSENT:
            verdict = isinstance(found, property)
            break
    _PROPERTIES[(tp, name)] = verdict
    return verdict


_ABSENT = object()

#: (a check's line, its act's line) -> whether the two are in one function (see _one_piece)
_ONE_PIECE: dict[tuple[tuple, tuple], bool] = {}


def _one_piece(check: tuple, act: tuple) -> bool:
    """Whether another thread's read at ``check``'s line predicts that it acts as the thread that read
    there and then wrote at ``act``: only when the read and the write are in one function. A check in
    a getter of its own (``return self._status``, a property read under a lock by its setter before it
    writes) is read at that line by every caller of the getter, most of which only read (a loop's
    ``while ctx.alive``): a read cannot break the setter's read-then-write. (When the other thread does
    act on its read, its write is checked against the first thread's check as any write is.)"""
    verdict = _ONE_PIECE.get((check, act))
    if verdict is None:
        verdict = _ONE_PIECE[(check, act)] = same_function(check, act)
    return verdict


#: site -> its line, ``(filename, lineno)``: one tuple per line, kept by every access made there
_LINES: dict[tuple, tuple] = {}


def _line(site: tuple) -> tuple:
    if len(_LINES) > 100_000:
        _LINES.clear()  # a bound for long-lived processes (a whole test suite under the plugin)
    line = _LINES[site] = (site[0], site[1])
    return line


def _index_pair(index: dict[tuple, set[tuple]], a: tuple, b: tuple) -> None:
    """Add the pair of lines ``a``, ``b`` to ``index`` (line -> the lines it is paired with)."""
    index.setdefault(a, set()).add(b)
    index.setdefault(b, set()).add(a)


def _site_key(site: tuple) -> tuple:
    return (site[0], site[1])


def _pair_key(a: Access, b: Access) -> frozenset:
    """What tells races apart: the pair of code locations of their accesses (see Race.key)."""
    return frozenset({_site_key(a.site), _site_key(b.site)})


def _loc(site: tuple | None) -> str:
    return f"{os.path.basename(site[0])}:{site[1]}" if site else "?"


class _BySite:
    """Entries by owner (a thread, or a thread and a key), grouped by the line of the access each
    holds: the loops that look for atomicity violations skip a whole line whose violation with the
    access at hand is reported already. Without that, every access of the seed article's 400 threads
    walked 400 entries per loop, to find the one lost update reported long before."""

    __slots__ = ("entries", "by_line", "line_of")

    def __init__(self, line_of: Any) -> None:
        self.entries: dict[Any, Any] = {}
        self.by_line: dict[tuple, dict[Any, Any]] = {}
        #: the line an entry is grouped under, from the entry itself (a dict of it per owner cost a
        #: dict entry per thread and location)
        self.line_of = line_of

    def put(self, owner: Any, value: Any, line: tuple) -> None:
        entries = self.entries
        old = entries.get(owner)
        if old is not None:
            old_line = self.line_of(old)
            if old_line != line:
                group = self.by_line[old_line]
                del group[owner]
                if not group:
                    del self.by_line[old_line]
        self.by_line.setdefault(line, {})[owner] = value
        entries[owner] = value


def _access_line(access: Access) -> tuple:
    return access.line


def _check_line(check: _Check) -> tuple:
    return check.access.line


def _act_line(rmw: tuple[_Check, Access]) -> tuple:
    return rmw[1].line


class _Location:
    __slots__ = ("write", "reads", "what", "pub", "obtained", "writes", "serial")

    def __init__(self, what: str, serial: int) -> None:
        self.write: Access | None = None
        self.reads: dict[int, Access] = {}
        self.what = what
        #: the clock of its last writer at that write: what a thread that accesses it next obtains
        self.pub: list[int] = []
        #: the threads that obtained ``pub`` already, a bit per thread id (a set of them cost 50 bytes per
        #: thread and location): a clock only grows, so obtaining it again is nothing
        self.obtained = 0
        self.writes = _BySite(_access_line)  # each thread's last write of it (lost updates)
        self.serial = serial  # unique among the locations of an execution (see _owner)


def _owner(t: int, location: _Location | None) -> Any:
    """What names thread ``t``'s check of ``location`` in its group: an int (a tuple costs twice its
    memory, once per thread and location read, and is built at each look-up)."""
    if location is None:
        return None
    return location.serial << 16 | t if t < 65536 else (t, location.serial)


class _Check:
    """A thread's first read of a group of locations since its last synchronisation or loop back-edge:
    the read that a later write of the group in the same stretch may depend on. ``pre``: the thread's clock before
    that read obtained anything from the location (see :meth:`RaceDetector._atomicity`); only that stretch
    uses it, so it is dropped when the thread's next stretch begins (a copy of a clock per thread and
    location read is most of the detector's memory on many threads reading many objects), and so is
    ``saw``. Which stretch
    a check belongs to is told by its access's number (see ``RaceDetector.stretch``). ``use``: of a
    container, the latest read that relied on this check (see :meth:`RaceDetector._use`)."""

    __slots__ = ("access", "pre", "use", "saw")

    def __init__(self, access: Access, pre: list[int] | None, saw: Access | None) -> None:
        self.access = access
        self.pre = pre
        self.use: Access | None = None
        #: the write of another thread it read (the location's last), while its stretch lasts (see
        #: RaceDetector.loop_exit)
        self.saw = saw


class _Group:
    """The locations an atomic step can read then write: one location, or a whole container with its
    items. ``checks``: each thread's :class:`_Check` of each key; ``rmws``: each thread's last read-then-write,
    ``(check, write)``; ``uses``: of a container, each thread's last check then later read of it
    (``if k in d: return d[k]``): the check, whose ``use`` is that read."""

    __slots__ = ("checks", "rmws", "uses")

    def __init__(self) -> None:
        self.checks = _BySite(_check_line)  # _owner(tid, location of key) -> that thread's check of that key
        self.rmws = _BySite(_act_line)  # tid -> (check, write), grouped by the write's line
        self.uses: dict[int, _Check] = {}  # containers: a check then a read that relies on it


class _Known:
    """What the detector knows about one object, by id: no reference to it (its lifetime is the
    program's); its type's id, to tell a new object at a reused address; its locations; where it was
    first used (for reports)."""

    __slots__ = ("tp", "locations", "origin")

    def __init__(self, tp: int, origin: str) -> None:
        self.tp = tp
        self.locations: list[tuple] = []
        self.origin = origin


def _obtain(into: list[int], pub: list[int]) -> None:
    """``into`` (a thread's clock entries) becomes the pointwise maximum of itself and ``pub``."""
    n = len(pub)
    if n > len(into):
        into.extend([0] * (n - len(into)))
    into[:n] = map(max, into, pub)  # (a loop in C: a clock has an entry per thread, hundreds of them)


def _kept(check: Access, act: Access, other: Access) -> bool:
    """``other`` cannot break the read-then-write ``check`` ... ``act``: a removal from a container
    (``if q: q.popleft()``, ``if s: s.pop()``) after a check of the whole container, against another
    thread's write of the whole that is no removal (``q.append(x)``). Such a write leaves the container
    non-empty and nothing it adds is lost to the removal (each is one atomic operation): a single
    consumer and its producer are correct. Another removal still breaks it (two consumers)."""
    return (act.kind == "delete" and other.kind == "write" and act.key == _WHOLE and check.key == _WHOLE
            and other.key == _WHOLE)


def _conflict(a: Any, b: Any) -> bool:
    """Whether two keys of one object name overlapping locations (the whole container overlaps all)."""
    return a == b or a == _WHOLE or b == _WHOLE


#: the interface version of interlace._races this code expects (its ``API`` constant)
NATIVE_API = 3


def _load_native() -> Any:
    """``interlace._races``: :meth:`RaceDetector.access` and :meth:`RaceDetector.sync` in C for the common
    accesses and synchronisations (the same work on the same objects; it calls back here for the rest).
    None: not built, built from another version of the source, or ``INTERLACE_PURE=1``."""
    if os.environ.get("INTERLACE_PURE"):
        return None
    try:
        from .. import _races  # type: ignore[attr-defined]
    except ImportError:
        return None
    if getattr(_races, "API", None) != NATIVE_API:
        return None
    _races.setup(_TYPES, _LINES, _line, Access, _Step, _Attr, _VALUE_KEYS, VectorClock, _WHOLE)
    _races.setup_atomicity(_Group, _Check, _same_loop)
    share_caches(_races)
    return _races


_native = _load_native()


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
        self.seen: dict[frozenset, Race] = {}  # by the pair of code locations
        #: line -> the lines of the accesses its violations are with (the pairs of ``seen`` that are no note)
        self.violated: dict[tuple, set[tuple]] = {}
        self.noted: dict[tuple, set[tuple]] = {}  # line -> the lines of the accesses its races are with
        self.suppressed = 0
        self.stackless: dict[tuple[int, int], list[Access]] = {}  # (tid, number) -> accesses to complete
        #: called with each new race that fails a run, as soon as it is found (``interlace run``
        #: prints it then: a long run shows its races as they happen, not at its end)
        self.on_race: Any = None
        self.controlled = False  # the execution observed adds each thread as it is started (see begin)
        #: the deaths of the objects known (see detect/lifetimes.py; None: not told)
        self.watch = lifetimes.watch()
        self.died: list[int] = self.watch.died if self.watch is not None else []
        self._reset()
        if _native is not None:
            _native.bind(self)  # the C path holds the attributes bound here and in begin (nowhere else)

    def _reset(self) -> None:
        self.clocks: list[VectorClock] = []
        self.lock_clocks: dict[int, VectorClock] = {}  # id of a lock -> the clock of its last release
        self.handoff_clocks: dict[tuple, VectorClock] = {}
        self.locations: dict[tuple, _Location] = {}
        self.serial = 0  # of the last location made
        # Objects are known by id() only: the detector holds no reference, strong or weak, to any object
        # of the program (its lifetime, its weak references, ``__weakref__`` and ``getweakrefcount`` are
        # the program's own). The native watch says when a known object dies (_bury); without it, a new
        # object at the same address is told at its first access (see _stale): by its type, or by a store
        # of an attribute the old object had and it does not (a constructor). At most MAX_KEPT objects
        # are known, oldest first.
        if self.watch is not None:
            self.watch.clear()
        self.objects: dict[int, _Known] = {}
        self.groups: dict[Any, _Group] = {}
        self.dict_owners: dict[int, tuple[int, type]] = {}  # id of an object's __dict__ -> (id, type) of it
        self.owned_dicts: dict[int, int] = {}  # the other way: id of an object -> id of its __dict__
        # tid -> that thread's latest access, and the location it was to (a run of accesses to one location
        # in one statement only ever continues the thread's latest; see _gil_verdict)
        self.last: dict[int, Access | _Step] = {}
        self.last_at: dict[int, _Location] = {}
        self.last_gil: dict[int, int] = {}  # tid -> the switch points before its latest access
        self.segs: dict[int, int] = {}  # tid -> number of its synchronisation events so far
        #: tid -> its stretch: (synchronisation events, loop back-edges) so far, the number of its first
        #: access seen in it (a check of an earlier number is of an earlier stretch: both counts only grow),
        #: the checks made in it
        self.stretch: dict[int, tuple[int, int, int, list[_Check]]] = {}
        self.started: dict[int, str] = {}
        self.pending: list[tuple[Race, tuple]] = []

    @property
    def native_access(self) -> Any:
        """:meth:`access` in C for the C hooks to call without this method's frame (``detect.Observer``;
        None: no native path, as with ``INTERLACE_PURE=1``)."""
        return _native.access if _native is not None else None

    @property
    def native_sync(self) -> Any:
        """:meth:`sync` in C, likewise."""
        return _native.sync if _native is not None else None

    # -- execution lifecycle ---------------------------------------------------------------------------

    def begin(self, ex: Any) -> None:
        self._reset()
        self.races = []
        # while a controlled execution has one unit, nothing races (see Execution.controlled)
        self.controlled = ex.controlled
        if _native is not None:
            _native.bind(self)  # (see __init__)

    def end(self, ex: Any) -> None:
        if self.watch is not None:
            self.watch.clear()  # no probe at each deallocation between executions
        for race, lk in self.pending:
            if _same_loop(ex, race.current.tid, race.previous.tid):
                race.gil, race.gil_reason = True, (
                    "Between steps of one event loop: the order depends on which task's await completes "
                    "first (a timer, I/O, another thread), whatever the interpreter.")
            else:
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
        if _native is not None and _native.sync(self, ex, kind, ts, obj):
            return  # done in C, the same work as below
        if self.died:
            self._bury()
        t = ts.tid
        self.segs[t] = self.segs.get(t, 0) + 1  # a read before this and a write after are two steps
        if kind == "acquire" or kind == "try-acquire":
            held = self.lock_clocks.get(id(obj))
            if held is not None:
                self.clock(t).join(held)
        elif kind == "release":
            c = self.clock(t)
            lock = id(obj)
            if self.watch is not None and lock not in self.lock_clocks:
                self.watch.add(lock)  # a new lock at its address after it died releases nothing yet
            self.lock_clocks[lock] = c.copy()
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
        if type(obj) is tuple and len(obj) == 5 and type(key) is str:
            return  # a settled closure variable (rewriter.cell_key): no access to it races
        if _native is not None and _native.access(self, ex, ts, kind, obj, key, site, atomic):
            return  # done in C (interlace._races mirrors this method: change both)
        if self.died:
            self._bury()
        # On the path of every shared access: one type lookup decides how the location is named.
        category, keyed = _TYPES.get(type(obj)) or _type_info(type(obj))
        oid = id(obj)
        tp = type(obj)
        name = key
        if category == _SUBCLASS:
            if _attribute(obj, key):
                category, key = _OTHER, _Attr(key)
            else:
                category, keyed = _ITEMS_OF[tp]
        if category == _OTHER:
            if type(name) is str:
                prop = _PROPERTIES.get((tp, name))
                if prop or prop is None and _is_property(tp, name):
                    return  # the getter's, setter's or deleter's own accesses are the ones that race
            if name == "__dict__" and kind == "read":
                self._note_dict(obj)
        elif category == _SKIP:
            return  # a threading.local: each thread sees its own attributes
        elif category == _MODULE:
            obj = obj.__dict__
            oid, tp = id(obj), dict
            keyed = True
        elif category == _WHOLE_ONLY:
            key = _WHOLE
        elif category == _INDEXED:
            if not (type(key) is int and key >= 0):
                key = _WHOLE  # slices and negative indices: the whole list
        else:  # a plain dict: maybe an object's __dict__, which is that object's attributes
            owner = self.dict_owners.get(oid)
            if owner is not None:
                oid, tp = owner
                keyed = (_TYPES.get(tp) or _type_info(tp))[1]
        if self.controlled and len(ex.threads) == 1:
            # the execution's only unit so far: what it does happens before everything any other unit
            # will do (each is started after this), so none of it can race; only the origin is kept
            known = self.objects.get(oid)
            if known is None or known.tp != id(tp):
                if known is not None:
                    self._forget(oid)  # a new object at the address of one that died
                self._know(oid, tp, obj, name, site)
            return
        try:
            lk = (oid, key if type(key) in _VALUE_KEYS or type(key) is _Attr else _key_of(key))
            location = self.locations.get(lk)
        except TypeError:
            key = _WHOLE
            lk = (oid, key)
            location = self.locations.get(lk)
        known = self.objects.get(oid)
        if known is not None and (known.tp != id(tp) or location is not None and kind == "write"
                                  and category == _OTHER and self._stale(location, obj, name)):
            self._forget(oid)  # a new object at the address of one that died
            known = location = None
        if location is None:
            location = self._locate(ex, lk, oid, tp, obj, key, name, site, known)
            known = self.objects[oid]
        t = ts.tid
        clocks = self.clocks
        c = clocks[t] if t < len(clocks) else self.clock(t)
        cc = c.c
        epoch = cc[t] if t < len(cc) else 0
        ordinal = ex.access_number(ts)
        # the statement this access belongs to, for the GIL verdict (see _gil_verdict): a run goes on
        # while the thread's accesses are to this location, one after the other, at one line
        line = _LINES.get(site) or _line(site)
        before = self.last.get(t)
        if (before is not None and before.number == ordinal - 1 and self.last_at[t] is location
                and before.line == line and not (before.kind != "read" and kind == "read")):
            run = before.run
            if run is None:
                run = before.run = [self.last_gil[t], ex.gil_clock(ts), 2]
            else:
                run[1] = ex.gil_clock(ts)
                run[2] += 1
        else:
            run = None
            self.last_gil[t] = ex.gil_clock(ts)  # where a run that goes on from this access begins
        self.last_at[t] = location
        write = kind != "read"
        # FastTrack's same-epoch rule: this thread made the same access at the same place since its
        # last synchronisation and the location has not changed hands since; nothing new can race.
        # (A write always ticks the writer's clock, so the rule only ever skips reads.)
        same = location.reads.get(t) if not write else None
        if (same is not None and same.tid == t and same.clock == epoch and same.line == line
                and same.kind == kind and same.atomic == atomic):
            self.last[t] = _Step(ordinal, line, kind, run)
            return
        access = Access(t, ts.name, kind, location.what, site, epoch, ordinal, atomic,
                        capture() if self.stacks else (), line, lk[1], run, ts.task is not None)
        self.last[t] = access
        w = location.write
        if w is not None and w.tid != t and w.clock > (cc[w.tid] if w.tid < len(cc) else 0) \
                and not (w.atomic and atomic):
            self._race(ex, location, lk, access, w)
        if write:
            for r in location.reads.values():
                if r.tid != t and r.clock > (cc[r.tid] if r.tid < len(cc) else 0) and not (r.atomic and atomic):
                    self._race(ex, location, lk, access, r)
        related: list[_Location] = []
        if keyed:
            if key == _WHOLE:
                for k in known.locations:
                    if k != lk:
                        other = self.locations.get(k)
                        if other is not None and type(k[1]) is not _Attr:
                            related.append(other)
                            self._check(ex, other, lk, access, c, write)
            else:
                whole = self.locations.get((oid, _WHOLE))
                if whole is not None:
                    related.append(whole)
                    self._check(ex, whole, lk, access, c, write)
        group = (oid,) if category != _OTHER and category != _MODULE else lk
        self._atomicity(ex, group, location, related, lk, access, cc, write, ex.back_edge_count(ts), _apart(ex))
        # what this access obtains: the clocks the last writers left (every access is atomic)
        w = location.write
        if w is not None and w.tid != t and not location.obtained >> t & 1:
            _obtain(cc, location.pub)
            location.obtained |= 1 << t
        for loc in related:
            w = loc.write
            if w is not None and w.tid != t and not loc.obtained >> t & 1:
                _obtain(cc, loc.pub)
                loc.obtained |= 1 << t
        if write:
            location.write = access
            location.reads = {}
            location.writes.put(t, access, access.line)
            location.pub = cc[:]
            location.obtained = 0
            cc[t] = epoch + 1  # what this thread does next is not published by this write
        else:
            location.reads[t] = access

    def loop_exit(self, ex: Any, ts: Any, since: int) -> None:
        """A polling loop's test ended it (``while not box.ready: sleep()``): each read of its last
        evaluation (``ts``'s accesses numbered above ``since``, in its current stretch) saw the write
        that ended the loop. That write is ordered before what the thread does on the loop's exit: had
        it come after the read, the read would have seen the value before it and the loop would have
        gone on. So the check such a read made counts the write it read as ordered before it (its
        ``pre``), and consuming what the poll waited for (``box.ready = False``) is no lost update
        against the write it waited for. Any other write still is: one the read did not see, or one
        the read saw only through it (two setters' ``ready = True``: either can come after the read)."""
        t = ts.tid
        stretch = self.stretch.get(t)
        if stretch is None or stretch[0] != self.segs.get(t, 0) or stretch[1] != ex.back_edge_count(ts):
            return  # nothing read since this thread's last synchronisation or back-edge
        for check in stretch[3]:
            saw, pre = check.saw, check.pre
            if saw is None or pre is None or check.access.number <= since:
                continue
            u = saw.tid
            if u >= len(pre):
                pre = check.pre = pre + [0] * (u + 1 - len(pre))
            if saw.clock > pre[u]:
                pre[u] = saw.clock

    def _locate(self, ex: Any, lk: tuple, oid: int, tp: type, obj: Any, key: Any, name: Any, site: tuple,
                known: _Known | None) -> _Location:
        """The location ``lk`` (of the object at ``oid``, ``known`` or not yet), met for the first time
        since its object was known: made, numbered and listed under its object. (interlace._races calls
        it too: an execution meets each of its locations once, most of them only a few times.)"""
        self.serial += 1
        location = self.locations[lk] = _Location(
            tp.__name__ if key == _WHOLE else f"{tp.__name__}.{name}" if type(key) is _Attr
            else ex.describe(obj, key), self.serial)
        if known is None:
            known = self._know(oid, tp, obj, name, site)
        known.locations.append(lk)
        return location

    def _know(self, oid: int, tp: type, obj: Any, key: Any, site: tuple) -> _Known:
        """Start knowing the object at ``oid`` (nothing is known there: see _forget)."""
        known = self.objects[oid] = _Known(id(tp), self._origin_of(obj, key, site))
        if self.watch is not None:
            self.watch.add(oid)
        if len(self.objects) > MAX_KEPT:
            self._forget(next(iter(self.objects)))
        return known

    def _check(self, ex: Any, loc: _Location, lk: tuple, access: Access, c: VectorClock, write: bool) -> None:
        w = loc.write
        if w is not None and w.tid != access.tid and w.clock > c.get(w.tid) and not (w.atomic and access.atomic):
            self._race(ex, loc, lk, access, w)
        if write:
            for r in loc.reads.values():
                if r.tid != access.tid and r.clock > c.get(r.tid) and not (r.atomic and access.atomic):
                    self._race(ex, loc, lk, access, r)

    def _atomicity(self, ex: Any, key: Any, location: _Location, related: list[_Location], lk: tuple,
                   access: Access, cc: list[int], write: bool, back_edges: int, apart: bool) -> None:
        """Atomicity violations around ``access`` (a write: ``write``), made before it obtains anything.

        A thread's first read of a location since its last synchronisation or loop back-edge is its
        *check*; a write of the location (or of a container the location is an item of, or an item of
        the container it is) in the same stretch is the *act* that may depend on it (``n = n + 1``; ``if
        q: q.popleft()``). It is violated, whatever this execution did, when a write of another thread
        that overlaps both could fall between them: one not ordered before the check (a lost update),
        or, for a write made after the act, the act not ordered before it; or when another thread makes
        the same check (same line) not ordered before the act: it can see what this thread saw and act
        too. "Ordered" ignores what the check obtained from the location itself (``pre``): the order of
        two unsynchronised read-then-writes is not a synchronisation. Of a container, a later read that
        relies on the check (``if k in d: return d[k]``) is violated by a removal (:meth:`_use`).
        ``apart``: see :func:`_apart` (False: only the checks and acts are kept).
        """
        if _native is not None:  # the same work in C (interlace._races mirrors this method: change both)
            _native.atomicity(self, ex, key, location, related, lk, access, cc, write, back_edges, apart)
            return
        t = access.tid
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group()
            if type(key) is tuple and len(key) == 1:
                self.objects[key[0]].locations.append(key)  # forgotten with its object
        segs = self.segs.get(t, 0)
        stretch = self.stretch.get(t)
        if stretch is None or stretch[0] != segs or stretch[1] != back_edges:
            if stretch is not None:
                for old in stretch[3]:
                    old.pre = old.saw = None
            stretch = self.stretch[t] = (segs, back_edges, access.number, [])
        first = stretch[2]
        container = len(key) == 1
        k = access.key
        checks = group.checks
        entries = checks.entries
        owner = location.serial << 16 | t if t < 65536 else (t, location.serial)  # (_owner, inline)
        if not write:
            check = entries.get(owner)
            if check is None or check.access.number < first:
                w = location.write
                check = _Check(access, list(cc), w if w is not None and w.tid != t else None)
                checks.put(owner, check, access.line)
                stretch[3].append(check)
                if container and k != _WHOLE:
                    whole = entries.get(_owner(t, self.locations.get((key[0], _WHOLE))))
                    if whole is not None and whole.access.number >= first:
                        self._use(ex, group, location, related, lk, access, whole, apart)  # if k in d: d[k]
            elif container:
                self._use(ex, group, location, related, lk, access, check, apart)
            for line, rmws in group.rmws.by_line.items() if apart else ():
                if not self._unreported(access, line):
                    continue
                for u, (ucheck, uwrite) in rmws.items():
                    # another thread read this here, then wrote it; this read can come between the two
                    if (u != t and ucheck.access.line == access.line and _conflict(k, uwrite.key)
                            and uwrite.clock > (cc[u] if u < len(cc) else 0)
                            and not _same_loop(ex, t, u)
                            and self._unreported(access, line)):
                        self._read_between(ex, location, lk, access, ucheck, uwrite)
            return
        for line, rmws in group.rmws.by_line.items() if apart else ():
            if not self._unreported(access, line):
                continue
            for u, (ucheck, uwrite) in rmws.items():
                # a write of another thread's read-then-write not ordered before this write: this one can
                # fall between its check and its act
                if (u != t and uwrite.clock > (cc[u] if u < len(cc) else 0)
                        and _conflict(k, ucheck.access.key) and _conflict(k, uwrite.key)
                        and not _same_loop(ex, t, u) and not _kept(ucheck.access, uwrite, access)
                        and self._unreported(access, line)):
                    self._write_between(ex, location, lk, access, ucheck, uwrite)
        if apart and container and access.kind == "delete":
            for u, ucheck in group.uses.items():
                use = ucheck.use
                # this removal can come between another thread's check of the container and its use
                if (u != t and use.clock > (cc[u] if u < len(cc) else 0)
                        and _conflict(k, ucheck.access.key) and _conflict(k, use.key)
                        and not _same_loop(ex, t, u)
                        and self._unreported(access, use.line)):
                    self._removal_between(ex, location, lk, access, ucheck, use)
        # this thread's check that this write may act on: its earliest read of the item or of the whole
        check = None
        # a container's whole has a location of its own (an item's check and the whole's are one group's)
        whole = self.locations.get((key[0], _WHOLE)) if container and k != _WHOLE else None
        for candidate in (entries.get(owner), entries.get(_owner(t, whole))):
            if (candidate is not None and candidate.access.number >= first
                    and (check is None or candidate.access.number < check.access.number)):
                check = candidate
        if check is None:
            return
        pre = check.pre
        group.rmws.put(t, (check, access), access.line)
        if not apart:
            return
        for loc in (location, *related):
            for line, writes in loc.writes.by_line.items():
                if not self._unreported(access, line):
                    continue
                for u, other in writes.items():
                    if (u != t and other.clock > (pre[u] if u < len(pre) else 0)
                            and _conflict(other.key, check.access.key) and _conflict(other.key, k)
                            and not _same_loop(ex, t, u) and not _kept(check.access, access, other)
                            and self._unreported(access, line)):
                        self._overwritten(ex, loc, lk, access, check, other)
        line = check.access.line  # another thread's check at the same line, which this write may follow
        if self._unreported(access, line):
            for ucheck in checks.by_line.get(line, {}).values():
                u = ucheck.access.tid
                if (u != t and _conflict(ucheck.access.key, k)
                        and ucheck.access.clock > (cc[u] if u < len(cc) else 0)
                        and not _same_loop(ex, t, u)
                        and self._unreported(access, line)):
                    self._same_check(ex, location, lk, access, check, ucheck)

    # -- the atomicity violations _atomicity finds (interlace._races calls these too: one text) --------

    def _read_between(self, ex: Any, location: _Location, lk: tuple, access: Access, ucheck: _Check,
                      uwrite: Access) -> None:
        if not _one_piece(ucheck.access.line, uwrite.line):
            return  # the check was a getter's read: this read may be any caller's, which need not act
        self._violation(ex, location, lk, access, uwrite, _kind_of(ucheck.access, uwrite),
                        f"{uwrite.who} read this at {_loc(ucheck.access.site)} and then "
                        f"wrote it at {_loc(uwrite.site)}; the same read by {access.who} "
                        "can come between the two")

    def _write_between(self, ex: Any, location: _Location, lk: tuple, access: Access, ucheck: _Check,
                       uwrite: Access) -> None:
        self._violation(ex, location, lk, access, uwrite, "lost update",
                        f"this write can come between {uwrite.who}'s read at "
                        f"{_loc(ucheck.access.site)} and its write at {_loc(uwrite.site)}, which "
                        "then overwrites it")

    def _removal_between(self, ex: Any, location: _Location, lk: tuple, access: Access, ucheck: _Check,
                         use: Access) -> None:
        self._violation(ex, location, lk, access, use, "check-then-act",
                        f"this write can come between {use.who}'s check at "
                        f"{_loc(ucheck.access.site)} and its use at {_loc(use.site)}")

    def _overwritten(self, ex: Any, loc: _Location, lk: tuple, access: Access, check: _Check,
                     other: Access) -> None:
        self._violation(ex, loc, lk, access, other, "lost update",
                        f"{other.who}'s write at {_loc(other.site)} can come between "
                        f"{access.who}'s read at {_loc(check.access.site)} and this "
                        "write, which then overwrites it")

    def _same_check(self, ex: Any, location: _Location, lk: tuple, access: Access, check: _Check,
                    ucheck: _Check) -> None:
        if not _one_piece(check.access.line, access.line):
            return  # (as in _read_between: the other read may be any caller's of the getter)
        self._violation(ex, location, lk, access, ucheck.access, _kind_of(check.access, access),
                        f"{access.who} read this at {_loc(check.access.site)} and then wrote it "
                        f"here; the same read by {ucheck.access.who} can come between the two")

    def _use(self, ex: Any, group: _Group, location: _Location, related: list[_Location], lk: tuple,
             access: Access, check: _Check, apart: bool) -> None:
        """A read of a container after a check of it in the same stretch (``if k in d: return d[k]``,
        ``if q: q[0]``): another thread's removal (``del``, ``pop``, ``clear``, ...: a delete; what adds
        or replaces items keeps what the check saw) not ordered before the check can come between them."""
        t = access.tid
        group.uses[t] = check
        check.use = access
        if not apart:
            return
        pre = check.pre
        for loc in (location, *related):
            for u, other in loc.writes.entries.items():
                if (u != t and other.kind == "delete"
                        and other.clock > (pre[u] if u < len(pre) else 0)
                        and _conflict(other.key, check.access.key) and _conflict(other.key, access.key)
                        and not _same_loop(ex, t, u)
                        and self._unreported(access, other.line)):
                    self._violation(ex, loc, lk, access, other, "check-then-act",
                                    f"{other.who}'s write at {_loc(other.site)} can come between "
                                    f"{access.who}'s check at {_loc(check.access.site)} and this use")

    def _stale(self, location: _Location, obj: Any, key: Any) -> bool:
        """A store of attribute ``key`` that the object known at this address had (its last access of
        it was a write) but ``obj`` does not: ``obj`` is a new object at a reused address (its
        constructor is storing its attributes)."""
        w = location.write
        if w is None or w.kind != "write" or type(key) is not str:
            return False
        own = _instance_dict(obj)
        if own is None or key in own:
            return False
        return not _type_defines(type(obj), key)  # a property or a slot is never in the dict

    def _note_dict(self, obj: Any) -> None:
        """``obj.__dict__`` was read: accesses to that dict are accesses to ``obj``'s attributes."""
        d = _instance_dict(obj)
        if isinstance(d, dict):
            self.dict_owners[id(d)] = (id(obj), type(obj))
            self.owned_dicts[id(obj)] = id(d)
            if self.watch is not None:
                self.watch.add(id(d))

    def _bury(self) -> None:
        """Forget the known objects that died (their addresses can be reused by new objects)."""
        died = self.died
        dead = died[:]
        del died[:len(dead)]  # (a death during the forgetting is buried next time)
        for oid in dead:
            self._forget(oid)

    def _forget(self, oid: int) -> None:
        """Drop everything known about the object with id ``oid`` (it died, a new object has its
        address, or it is the oldest known): its locations, and its clock if it is a lock."""
        self.lock_clocks.pop(oid, None)
        if self.dict_owners:
            d = self.owned_dicts.pop(oid, None)
            if d is not None:
                self.dict_owners.pop(d, None)
            owner = self.dict_owners.pop(oid, None)
            if owner is not None:
                self.owned_dicts.pop(owner[0], None)
        if self.watch is not None:
            self.watch.discard(oid)
        known = self.objects.pop(oid, None)
        if known is None:
            return
        for lk in known.locations:
            self.locations.pop(lk, None)
            self.groups.pop(lk, None)

    # -- reporting -------------------------------------------------------------------------------------

    def _unreported(self, current: Access, line: tuple) -> bool:
        """Whether a violation between ``current`` and an access at ``line`` is not reported yet (or only as
        a note): asked before the words of its report are made, which cost more than this (hundreds of
        threads repeat one lost update: almost every violation seen is one already reported)."""
        return line not in self.violated.get(current.line, ())

    def _violated(self, race: Race) -> None:
        """Index a race that is (now) a violation for :meth:`_unreported`."""
        _index_pair(self.violated, race.current.line, race.previous.line)

    def _violation(self, ex: Any, loc: _Location, lk: tuple, current: Access, previous: Access,
                   violation: str, why: str) -> None:
        # (never between two units of one event loop: callers check _same_loop first, before the words)
        self._race(ex, loc, lk, current, previous, violation, why)

    def _race(self, ex: Any, loc: _Location, lk: tuple, current: Access, previous: Access,
              violation: str = "", why: str = "") -> None:
        if not violation and previous.line in self.noted.get(current.line, ()):
            return  # reported already (the first read of each object by each thread, of an object published)
        key = frozenset({current.line, previous.line})  # (see _pair_key: a line is its site's key)
        known = self.seen.get(key)
        if known is not None:
            if not (known.note and violation):
                return  # reported already (between the units of an event loop: at nearly every turn)
            if any(r is known for r in self.races):  # found as a note in this execution: it is more
                known.violation, known.why, known.current, known.previous = violation, why, current, previous
                self._violated(known)
                if not self.stacks:
                    for a in (current, previous):
                        self.stackless.setdefault((a.tid, a.number), []).append(a)
                if self.on_race is not None and known.fails:
                    self.on_race(known)
                return
        race = Race(loc.what, self._origin(lk), current, previous, violation=violation, why=why)
        self.seen[key] = race
        _index_pair(self.noted, current.line, previous.line)
        if violation:
            self._violated(race)
        for tid in (current.tid, previous.tid):
            if tid in self.started:
                race.started[ex.threads[tid].name] = self.started[tid]
        race.suppressed = self._suppressed(race)
        if race.suppressed:
            self.suppressed += 1
        self.races.append(race)
        self.pending.append((race, lk))
        if self.on_race is not None and race.fails:
            self.on_race(race)
        if not self.stacks:
            for a in (current, previous):
                self.stackless.setdefault((a.tid, a.number), []).append(a)

    def take_stackless(self) -> dict[tuple[int, int], list[Access]]:
        """The reported accesses of the last execution still without a stack, by (thread, number),
        for :class:`StackProbe`; forgotten here."""
        taken, self.stackless = self.stackless, {}
        return taken

    @staticmethod
    def _origin_of(obj: Any, key: Any, site: tuple) -> str:
        if type(obj) is dict and "__builtins__" in obj:  # (module globals: a dict, never a subclass)
            return f"global of module {obj.get('__name__', '?')}"
        if is_cell_key(obj, key):
            return f"closure variable of {obj[2]}() at {os.path.basename(obj[0])}:{obj[1]}"
        return f"object first used at {_loc(site)}" if site else ""

    def _origin(self, lk: tuple) -> str:
        known = self.objects.get(lk[0])
        return known.origin if known is not None else ""

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
            if a.run is not None:  # (a run of one access has no switch point within it)
                first, last, _accesses = a.run
                sequences.append((a, last - first))
        if any(switches > 0 for _a, switches in sequences):
            a = next(a for a, s in sequences if s > 0)
            return True, (f"Under the GIL of Python {version} the race can manifest: {a.who} can be "
                          f"switched out between its accesses to {race.what} at {_loc(a.site)} (a call or a "
                          "loop back-edge lies between them).")
        if len(sequences) == 2:
            return False, (f"Under the GIL of Python {version} it cannot manifest: each thread's accesses to "
                           f"{race.what} within one statement run with no switch point between them. It can "
                           "on free-threaded builds (3.13t and later) and on Python 3.9 and earlier.")
        # one side is a lone access: which of the two comes first depends on where the GIL switches
        return True, (f"Under the GIL of Python {version} the race can manifest: the order of these two "
                      "accesses depends on where the interpreter switches threads.")
