"""An execution as DPOR sees it: its events, hidden ones included, cut into transitions.

The trace is what the runtime recorded; DPOR needs three things more before it can look for races.

Hidden events. Hand-offs of the standard library (Event, Queue, Semaphore, Condition with its own
lock) run on internal locks that the trace leaves out (so that detectors do not take them for
synchronisation); the runtime tells the strategy about them (``DPOR.hidden_sync``, see
``runtime/locks.py``) and :class:`EventLog` keeps DPOR's own copy of the trace with them in place:
each acquire of an internal lock is an event (a write of a location named after the lock: the
primitive's state only changes under it), and a ``Condition.wait`` waiter released by ``notify``
happens after the notifier's transition (a wake-up edge: without it the waiter's next step looked like
a race it could never win, and the reversal, impossible, ran as redundant executions). The start
handshake's internal lock of a ``Thread`` stays out (start and join edges order it). Reads of a
primitive's state without its lock (``Event.is_set``, ``Barrier.broken``) are reads of the location its
critical sections write, and ``Thread.is_alive`` a read of what the thread's end writes; a
``multiprocessing`` semaphore's value is read or written by its acquire just after the acquire's
scheduling point and written by its release, which has none (``runtime/semlocks.py``). None of them is
a scheduling point, so they belong to the thread's transition in progress (:func:`continues`). A thread
woken by the virtual clock (a timeout, a sleep) is ordered by nothing: a sleeping thread is one the
strategies can choose (``Execution._advance_time``), so it may wake before or after any of the
others' steps.

Lock identities. Events name a lock by its label (where it was made), which several locks share
(made on one line, in a loop); :func:`lock_identities` tells them apart by the locks each thread held
at each decision, as ``label#id`` (``label#?``: one of the locks with that label).

Transitions (:func:`transitions`): what one thread did from one scheduling point to its next, tagged
with the decision that chose it (None: it was the only thread that could run, so it cannot be
reversed). A lock release belongs to the transition before it, and so do the accesses of the ``gil``
model between two switch points (:func:`continues`).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from ..dependence import ACCESS, CLOCK

#: the location of a thread's liveness, by thread name (no brackets: two threads are two locations, not two
#: keys of one mapping): written by its end, read by ``is_alive``
ALIVE = "Thread.alive:%s"


class Hidden:
    """An event the trace does not show (the runtime tells DPOR, see :meth:`EventLog.hidden`): the
    acquire of a standard library's internal lock, ``("internal", label)``; a read of the state behind
    it without the lock (``Event.is_set``), ``("read", label)``; a look or a change of a ``multiprocessing``
    semaphore's value, ``("read", ident)`` or ``("write", ident)``; the end of a thread, ``("write",
    "Thread.alive:name")``, which ``Thread.is_alive`` reads (:data:`ALIVE`)."""

    __slots__ = ("tid", "kind", "what")

    def __init__(self, tid: int, kind: str, what: str) -> None:
        self.tid = tid
        self.kind = kind
        self.what = what


class EventLog:
    """The events of one execution: the real trace with the hidden events in place. Every position
    DPOR keeps (of a decision, of a transition) is a position in :attr:`events`.

    What :meth:`hidden` is told waits in :attr:`pending`, with the length of the real trace then, until
    :meth:`sync` needs the events (a decision, the analysis): an event loop tells it two things per
    turn (a callback's release and its run), and an execution with no decision (every turn of a loop
    with one ready step) never reads the events, whose upkeep at each of these was most of what DPOR
    cost it beyond the trace. :meth:`sync` does with each, in order, exactly what it did then."""

    __slots__ = ("events", "seen", "released", "wakes", "last_of", "indexed", "pending")

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.seen = 0  # how much of the real trace is in ``events``
        self.released: dict[int, tuple[int, int]] = {}  # untracked lock -> (tid, its last event) at release
        self.wakes: list[tuple[int, int, int]] = []  # (waker's event, woken tid, woken from position)
        # tid -> the position of its last event among the first ``indexed`` (see _last_event): an event
        # loop's thread releases a callback at nearly every turn, after many events of its tasks
        self.last_of: dict[int, int] = {}
        self.indexed = 0
        # (length of the real trace, kind, tid, what) told to :meth:`hidden` and not yet in ``events``:
        # kind None for a :class:`Hidden` event (``what``), else "release" or "woken" (``what``: the lock's id)
        self.pending: list[tuple[int, str | None, int, Any]] = []

    def sync(self, execution: Any) -> list[Any]:
        """:attr:`events` brought up to date with the real trace (which only grows) and what :meth:`hidden`
        was told, each in its place."""
        trace = execution.trace
        if self.pending:
            self._merge(trace)
        if self.seen < len(trace):
            self.events.extend(trace[self.seen:])
            self.seen = len(trace)
        return self.events

    def hidden(self, execution: Any, kind: str, ts: Any, lock: Any) -> None:
        """A lock operation that the trace does not show (see ``runtime/locks.py``), kept in
        :attr:`pending` until :meth:`sync` puts it in place.

        ``acquire`` of an internal lock: the primitive's state changes there (an Event's flag, a Queue's
        items), so it is an event of its own, a write of a location named after the lock: its label and which
        of the locks with that label its maker made (``runtime/patching._named``). ``release`` of an untracked
        lock and ``woken``, its acquire that waited for that release: ``Condition.notify`` waking a waiter, a
        happens-before edge (the waiter could not have run before it), not a race. ``read`` of the state
        behind an internal lock without taking it (``Event.is_set``, ``Barrier.broken``), and ``read`` or
        ``write`` of a semaphore's value that takes no lock of interlace's (``runtime/semlocks.py``): in
        the step in progress, which began at the thread's last scheduling point (a release has none of its
        own; as a transition of its own, with no decision before it, such a step could not be reversed,
        and the race of the acquire before it was hidden behind it). ``alive``
        (``Thread.is_alive``) and ``finish`` (a thread's end): a read and a write of the thread's liveness.
        ``expired``: a timed wait or sleep that ended: no edge (it could have ended at any decision while it
        lasted, see ``Execution._advance_time``)."""
        if kind == "release" or kind == "woken":
            # (the lock's id now: a lock made later at its address is another one, as it was for the
            # eager bookkeeping this defers)
            self.pending.append((len(execution.trace), kind, ts.tid, id(lock)))
            return
        if kind == "acquire":
            if handshake(lock):
                return
            event = Hidden(ts.tid, "internal", lock.ident)
        elif kind == "read" or kind == "write":
            # no scheduling point before it: it belongs to the thread's transition in progress
            if handshake(lock):
                return
            event = Hidden(ts.tid, kind, lock.ident)
        elif kind == "expired":
            # a sleep or a timeout that ended: no edge (the strategies may end it at any decision while
            # it lasts, ``Execution._advance_time``, so the sleeper's next step can go before what the
            # others did meanwhile, a reversal DPOR makes like any other); the clock moved to its
            # deadline, which every sleep that begins after it (and every clock read) sees
            event = Hidden(ts.tid, "write", CLOCK)
        elif kind in ("alive", "finish"):
            # ``lock`` is the thread asked about (``is_alive``) or the one that ends
            event = Hidden(ts.tid, "read" if kind == "alive" else "write", ALIVE % lock.name)
        else:
            return
        self.pending.append((len(execution.trace), None, ts.tid, event))

    def _merge(self, trace: Any) -> None:
        """Put :attr:`pending` in place: each after the real events that preceded it."""
        events, released = self.events, self.released
        for at, kind, tid, what in self.pending:
            if self.seen < at:
                events.extend(trace[self.seen:at])
                self.seen = at
            if kind is None:
                events.append(what)
            elif kind == "release":
                last = self._last_event(tid)
                if last is not None:
                    released[what] = (tid, last)
            else:
                by = released.get(what)
                if by is not None and by[0] != tid:
                    self.wakes.append((by[1], tid, len(events)))
        self.pending.clear()

    def _last_event(self, tid: int) -> int | None:
        """The position of ``tid``'s last event, or None: :attr:`events` only grows, so the positions
        are brought up to date with its new events (a backward scan was quadratic in a long execution)."""
        events, last_of = self.events, self.last_of
        for pos in range(self.indexed, len(events)):
            last_of[events[pos].tid] = pos
        self.indexed = len(events)
        return last_of.get(tid)


def handshake(lock: Any) -> bool:
    """Whether ``lock`` is the internal lock of a ``threading.Thread`` (its start handshake, made where
    the thread was): the start and join edges already order what it orders, and it is touched by no
    one else, so it stays out of the model (as a hidden event it would conflict with every call)."""
    label = getattr(lock, "label", "")
    return label == "Thread" or label.startswith("Thread@")


def held_locks(execution: Any) -> dict[int, list[tuple[int, str]]]:
    """The locks each thread holds now: tid -> ``(id, label)`` of each."""
    return {ts.tid: [(id(lock), getattr(lock, "label", "?")) for lock in ts.held]
            for ts in execution.threads if ts.held}


def lock_identities(trace: list[Any], snaps: list[dict[int, list[tuple[int, str]]]],
                    bounds: list[int]) -> dict[int, str]:
    """Trace position -> ``label#id`` for lock acquires and releases.

    Events name a lock by its label (where it was made), which several locks share (made on one
    line, in a loop): from the locks each thread held at each decision (``snaps[k]`` at trace position
    ``bounds[k]``, :func:`held_locks`; the last one at the end of the trace), tell them apart."""
    out: dict[int, str] = {}
    stacks: dict[int, list[tuple[int, str]]] = {}
    segment = -1
    before: dict[int, list[tuple[int, str]]] = {}
    after: dict[int, list[tuple[int, str]]] = {}
    queues: dict[int, list[tuple[int, str]]] = {}
    for pos, event in enumerate(trace):
        kind = event.kind
        if kind != "acquire" and kind != "release":
            continue
        at = bisect_right(bounds, pos)  # the segment of the trace between decisions ``at - 1`` and ``at``
        if at >= len(bounds):
            break
        if at != segment:
            segment = at
            before = snaps[at - 1] if at > 0 else {}
            after = snaps[at]
            queues = {}
        tid, label = event.tid, event.what
        stack = stacks.setdefault(tid, [])
        now = after.get(tid, [])
        if kind == "acquire":
            if tid not in queues:
                was = before.get(tid, [])
                queues[tid] = [x for x in now if x not in was]
            queue = queues[tid]
            ident = next((x for x in queue if x[1] == label), None)
            if ident is not None:
                queue.remove(ident)
            else:
                ident = next((x for x in reversed(stack) if x[1] == label and x in now), None)
                if ident is None:
                    ident = ("?", label)
            stack.append(ident)
        else:
            ident = next((x for x in reversed(stack) if x[1] == label), None)
            if ident is None:
                ident = ("?", label)
            else:
                stack.reverse()
                stack.remove(ident)
                stack.reverse()
        out[pos] = f"{label}#{ident[0]}"
    return out


class Transition:
    """What thread ``tid`` did from one scheduling point to its next: its ``idx``-th transition (from
    1), at ``pos`` in the list of transitions, chosen at decision ``decision`` (None: forced).
    ``later``: the decisions after ``decision`` that chose its thread again before it showed anything
    (steps that show nothing, such as a thread start's handshake): the same transition, from states
    that differ only by those steps."""

    __slots__ = ("tid", "ops", "decision", "idx", "clock", "pos", "held", "after", "later")

    def __init__(self, tid: int, decision: int | None, idx: int, pos: int) -> None:
        self.tid = tid
        self.ops: list[tuple] = []
        self.decision = decision
        self.idx = idx
        self.clock: dict[int, int] = {}
        self.pos = pos
        self.held: dict[str, list] | None = None  # locks its thread holds: label -> acquires
        self.after: list[Transition] = []  # transitions that woke its thread up (Condition.notify)
        self.later: tuple[int, ...] = ()


def hb(t: Transition, clock: dict[int, int]) -> bool:
    """Whether transition ``t`` happens before (or is) the point with vector clock ``clock``."""
    return clock.get(t.tid, 0) >= t.idx


def continues(event: Any, free: bool) -> bool:
    """Whether ``event``, of the thread that ran last and not chosen by a decision, belongs to that
    thread's transition instead of beginning a new one: a lock release, (``gil`` model) an access, or a
    hidden read or end of thread (:class:`Hidden`: no scheduling point comes before them, so they are
    part of the step in progress, not a forced step of their own that no decision could reverse)."""
    kind = event.kind
    return kind == "release" or kind in ACCESS and (not free or event.__class__ is Hidden)


def transitions(log: EventLog, chosen: list[int], trace_pos: list[int], idents: dict[int, str],
                free: bool, tasks: frozenset[int] = frozenset()) -> list[Transition]:
    """The events of ``log`` as transitions, each tagged with the decision that chose it (None:
    forced). ``chosen[d]`` is the thread chosen at decision ``d`` of the current path, made at trace
    position ``trace_pos[d]``; ``idents`` are the lock identities (:func:`lock_identities`); ``free``:
    the free-threaded model. ``tasks``: the tids of asyncio tasks, whose events with no decision
    between them are one step of their loop (no other task can run inside it): one transition, which
    the decision that chose the task can reverse."""
    decided: dict[int, int] = {}
    for d, pos in enumerate(trace_pos):
        if d < len(chosen):
            decided[pos] = d  # the last decision at a position is the one whose thread ran
    chains: dict[int, tuple[int, ...]] = {}
    for pos, d in decided.items():
        # a thread chosen again after a step that showed nothing (an internal lock, a wake-up in
        # Condition.wait): its transition began at the first of these decisions, and that is
        # where another thread can go first instead (or at any of the others: ``later``)
        last = d
        while d > 0 and trace_pos[d - 1] == pos and chosen[d - 1] == chosen[d]:
            d -= 1
        decided[pos] = d
        chains[pos] = tuple(range(d + 1, last + 1))
    out: list[Transition] = []
    counts: dict[int, int] = {}
    at: dict[int, Transition] = {}  # event position -> the transition it begins
    events = log.events
    cur: Transition | None = None  # the last transition: an event of its thread may continue it
    for pos, event in enumerate(events):
        tid = event.tid
        kind = event.kind
        d = decided.get(pos)
        if d is not None and chosen[d] != tid:
            d = None
        if kind == "sleep":
            event_op = ("read", CLOCK)  # see dependence.dependent
        else:
            event_op = (kind, idents.get(pos, event.what))
        if cur is not None and cur.tid == tid and d is None and (
                tid in tasks or kind == "release" or kind in ACCESS and (not free or event.__class__ is Hidden)):
            cur.ops.append(event_op)  # (:func:`continues`)
            continue
        n = counts[tid] = counts.get(tid, 0) + 1
        cur = Transition(tid, d, n, len(out))
        if d is not None:
            cur.later = chains[pos]
        cur.ops.append(event_op)
        out.append(cur)
        at[pos] = cur
    for waker, tid, since in log.wakes:
        # the waiter's next step happens after the step of the notifier that released it
        woken = next((at[p] for p in range(since, len(events)) if events[p].tid == tid and p in at), None)
        source = at.get(waker) or next((at[p] for p in range(waker, -1, -1)
                                        if events[p].tid == events[waker].tid and p in at), None)
        if woken is not None and source is not None and source.pos < woken.pos:
            woken.after.append(source)
    return out
