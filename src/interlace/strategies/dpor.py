"""DPOR: optimal dynamic partial order reduction with wakeup trees (Abdulla et al., POPL 2014).

Two interleavings that differ only in the order of independent operations (a Mazurkiewicz trace) end
in the same state; DPOR runs one execution per trace instead of one per interleaving. This is
*optimal DPOR* (Algorithm 2 of the paper): sleep sets, and at each decision a *wakeup tree* of
sequences still to run, instead of source-DPOR's set of threads. With exact dependences no
execution is ever equivalent to one already run, whatever the number of threads; where the model
is not exact an execution can still turn out to be "sleep-set blocked": it runs to its end (an
execution cannot be abandoned half-way) and is counted in :meth:`coverage` as ``redundant``, not as a
class. What it does not model is listed in ``docs/strategies.md``.

Hand-offs of the standard library (Event, Queue, Semaphore, Condition with its own lock) run on
internal locks that the trace leaves out; the runtime tells :meth:`DPOR.hidden_sync` about them, and
DPOR keeps its own copy of the trace with them in place (:attr:`DPOR.events`): each acquire of an
internal lock is an event (a write of a location named after the lock: the primitive's state only
changes under it), and a ``Condition.wait`` waiter released by ``notify`` happens after the notifier's
transition (a wake-up edge: without it the waiter's next step looked like a race it could never win,
and the reversal, impossible, ran as redundant executions). The start handshake's internal lock of a
``Thread`` stays out (start and join edges order it).

After each execution, :meth:`end` rebuilds the trace as *transitions* (what one thread did from one
scheduling point to its next), computes happens-before with vector clocks (program order, thread
start and join, lock release -> next acquire, conflicting accesses) and, for every race ``i -> j``
(two conflicting transitions of different threads, the first not ordered before the second by
anything else), takes ``v = notdep(i).j``: the transitions after ``i`` that do not happen after it,
then ``j``. Unless a thread asleep at the decision before ``i`` could start ``v`` (one of its *weak
initials*: its first transition in ``v`` has nothing of another thread before it, or it has none in
``v`` and commutes with all of it), ``v`` is inserted in that decision's wakeup tree, below the
longest path of the tree that ``v`` can start with. The next execution replays the decisions up to
the deepest one with a sequence left and follows that sequence, step by step; the branches of the
tree below it become the wakeup trees of the new decisions.

Steps that show nothing in the trace (the scheduling point of a lock acquire, a wake-up inside
``Condition.wait``, the start of a thread and its handshake) are not
transitions: a thread chosen there and chosen again at once runs one transition, reversible at the
first of these decisions; sleep sets keep a thread asleep on its next *visible* step; and while a
sequence's next thread waits for such a step of another thread (a thread start's handshake), that
step runs without leaving the sequence. Before a lock acquire the runtime says which lock
(``ThreadState.pending_lock``); lock identities (ids of lock objects) distinguish locks within an
execution, and what is kept across executions names a lock by its label only.

Dependence (:func:`dependent`): accesses of the same location conflict unless both are reads
(``list[0]`` and ``list[1]`` are different locations; a whole-container operation conflicts with
all its items, and the writes of two keys of a mapping conflict, since a new key resizes it under an
iteration in progress); two acquires of the same lock conflict, and so do two critical sections of
one internal lock; a transition that is only happens-before edges (a join) conflicts with nothing,
and an acquire never races with a step inside a critical section of its lock (the acquire that
began it is reversed instead); a ``call`` into code interlace
cannot see, a ``sleep`` and an operation whose kind is unknown (``None``, e.g. a wake-up inside
``Condition.wait`` before it shows) conflict with everything. Locations are named by type and
attribute (``Box.value``), so two objects of the same type are one location: a sound
over-approximation.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from .base import Strategy
from .dfs import useful

ACCESS = frozenset({"read", "write", "delete"})
#: what conflicts by location: accesses, and the critical sections of the standard library's own locks
#: (``("internal", "Event@file.py:9")``: one write of a location named after the primitive's lock)
LOCATED = ACCESS | {"internal"}
#: operations ordered by happens-before edges, never by conflicts
EDGE_ONLY = frozenset({"start", "join", "release", "loop", "finish"})
#: pending operations whose step shows nothing in the trace: a thread not yet run (``start``), a
#: wake-up inside ``Condition.wait`` (``None``), the internal lock of a thread start's handshake
INVISIBLE = frozenset({None, "start", "handshake"})
#: a thread about to do one of these is never put asleep: its step is not known, or it commutes with
#: everything that is reported and is ordered only by a happens-before edge
NO_SLEEP = INVISIBLE | {"join", "start"}


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
    return _split(str(what))[0]


class _Hidden:
    """An event the trace does not show (the runtime tells DPOR, see :meth:`DPOR.hidden_sync`): the
    acquire of a standard library's internal lock, ``("internal", label)``."""

    __slots__ = ("tid", "kind", "what")

    def __init__(self, tid: int, kind: str, what: str) -> None:
        self.tid = tid
        self.kind = kind
        self.what = what


class _Branch:
    """One step of a wakeup sequence: the ``idx``-th transition of thread ``tid``, which did ``ops``
    in the execution that found it; ``children`` are the steps that follow it (a wakeup tree)."""

    __slots__ = ("tid", "idx", "ops", "children")

    def __init__(self, tid: int, idx: int, ops: tuple) -> None:
        self.tid = tid
        self.idx = idx
        self.ops = ops
        self.children: list[_Branch] = []


class _Node:
    """One decision of the current path.

    ``wut`` is the wakeup tree of the decision minus the branch being run: the sequences still to run
    from here, in the order they were found. ``done`` are the threads already run from here (with
    ``sleep``, what the paper calls the sleep set of the node once they are finished)."""

    __slots__ = ("enabled", "chosen", "done", "sleep", "ops", "wut")

    def __init__(self, enabled: list[int], chosen: int, sleep: set[int], ops: dict[int, tuple],
                 wut: list[_Branch]) -> None:
        self.enabled = enabled
        self.chosen = chosen
        self.done = {chosen}
        self.sleep = sleep
        self.ops = ops
        self.wut = wut


class _Transition:
    __slots__ = ("tid", "ops", "decision", "idx", "clock", "pos", "held", "after")

    def __init__(self, tid: int, decision: int | None, idx: int, pos: int) -> None:
        self.tid = tid
        self.ops: list[tuple] = []
        self.decision = decision
        self.idx = idx
        self.clock: dict[int, int] = {}
        self.pos = pos
        self.held: dict[str, list] | None = None  # locks its thread holds: label -> acquires
        self.after: list[_Transition] = []  # transitions that woke its thread up (Condition.notify)


def _hb(t: _Transition, clock: dict[int, int]) -> bool:
    """Whether transition ``t`` happens before (or is) the point with vector clock ``clock``."""
    return clock.get(t.tid, 0) >= t.idx


class DPOR(Strategy):
    name = "dpor"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.nodes: list[_Node] = []
        self.position = 0
        self.trace_pos: list[int] = []
        self.held_snaps: list[dict[int, list[tuple[int, str]]]] = []  # locks each thread holds, per decision
        self.started = False
        self.done = False
        self.classes = 0  # executions that were not sleep-set blocked: distinct traces
        self.redundant = 0
        self._blocked = False
        self.races = 0
        # following a wakeup sequence: its step chosen at the last decision (its children come next)
        self.follow: _Branch | None = None
        # transitions so far of each thread in this execution (as :meth:`_transitions` cuts them)
        self.tcount: dict[int, int] = {}
        self.scanned = 0
        self.last_tid: int | None = None
        self.decided_at: dict[int, int] = {}  # trace position -> thread chosen by the last decision there
        # the execution's trace with the hidden events (:meth:`hidden_sync`) in place: every
        # position below is a position in this list
        self.events: list[Any] = []
        self.seen = 0  # how much of the real trace is in ``events``
        self.released: dict[int, tuple[int, int]] = {}  # untracked lock -> (tid, its last event) at release
        self.wakes: list[tuple[int, int, int]] = []  # (waker's event, woken tid, woken from position)

    # -- the interface ---------------------------------------------------------------------------

    def begin(self, index: int) -> bool:
        super().begin(index)
        if self.done:
            return False
        if self.started and not self._advance():
            self.done = True
            return False
        self.started = True
        self.position = 0
        self.trace_pos = []
        self.held_snaps = []
        self._blocked = False
        self.tcount = {}
        self.scanned = 0
        self.last_tid = None
        self.decided_at = {}
        self.events = []
        self.seen = 0
        self.released = {}
        self.wakes = []
        return True

    def hidden_sync(self, execution: Any, kind: str, ts: Any, lock: Any) -> None:
        """Called by the runtime for lock operations that the trace does not show (see locks.py).

        ``acquire`` of an internal lock: the primitive's state changes there (an Event's flag, a
        Queue's items), so it is an event of its own, a write of a location named after the lock (two
        primitives made on one line share it: a conflict more at worst). ``release`` of an untracked
        lock and ``woken``, its acquire that waited for that release: ``Condition.notify`` waking a
        waiter, a happens-before edge (the waiter could not have run before it), not a race."""
        events = self._sync_events(execution)
        if kind == "acquire":
            if not _handshake(lock):
                events.append(_Hidden(ts.tid, "internal", lock.label))
        elif kind == "release":
            last = next((p for p in range(len(events) - 1, -1, -1) if events[p].tid == ts.tid), None)
            if last is not None:
                self.released[id(lock)] = (ts.tid, last)
        elif kind == "woken":
            by = self.released.get(id(lock))
            if by is not None and by[0] != ts.tid:
                self.wakes.append((by[1], ts.tid, len(events)))

    def _sync_events(self, execution: Any) -> list[Any]:
        """:attr:`events` brought up to date with the real trace (which only grows)."""
        trace = execution.trace
        if self.seen < len(trace):
            self.events.extend(trace[self.seen:])
            self.seen = len(trace)
        return self.events

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        d = self.position
        self.position += 1
        events = self._sync_events(execution)
        pos = len(events)
        self._count(execution)
        self.trace_pos.append(pos)
        self.held_snaps.append(_held(execution))
        if 0 < d <= len(self.nodes):
            self._check_sleepers(self.nodes[d - 1], execution)
        if d < len(self.nodes):
            node = self.nodes[d]
            if node.chosen in enabled:
                self.decided_at[pos] = node.chosen
                return node.chosen
            del self.nodes[d:]  # not deterministic: continue as a new path
            self.follow = None
        enabled = useful(enabled, execution)
        if current not in enabled:
            current = None
        threads = execution.threads
        pending = {t: _pending_op(threads[t]) for t in enabled}
        ops = dict(pending)  # and for sleepers, the visible step they sleep on
        sleep: set[int] = set()
        if d > 0 and d - 1 < len(self.nodes):
            parent = self.nodes[d - 1]
            segment = events[self.trace_pos[d - 1]:]
            executed = [(e.kind, e.what) for e in segment]
            candidates = (parent.sleep | parent.done) - {parent.chosen}
            if parent.chosen in parent.sleep and all(e.tid != parent.chosen for e in segment):
                candidates.add(parent.chosen)  # a sleeper that took a step showing nothing sleeps on
            for t in candidates:
                op = parent.ops.get(t)
                if t not in ops or op is None or op[0] in NO_SLEEP:
                    continue
                if op != ops[t] and ops[t][0] not in INVISIBLE:
                    continue  # it is about to do something else: not the step that was explored
                if not any(dependent(op, e) for e in executed):
                    sleep.add(t)
                    ops[t] = op  # what it will do, learnt in an earlier execution
        awake = [t for t in enabled if t not in sleep]
        if not awake:
            # a sleeper may still take a step that shows nothing (its visible step stays asleep)
            awake = [t for t in enabled if pending[t][0] in INVISIBLE]
        if not awake:
            self._blocked = True
            awake = enabled
        tid, wut = self._plan(enabled, pending)
        if tid is None:
            tid = current if current in awake else awake[0]
        self.nodes.append(_Node(list(enabled), tid, sleep, ops, wut))
        self.decided_at[pos] = tid
        return tid

    def _plan(self, enabled: list[int], pending: dict[int, tuple]) -> tuple[int | None, list[_Branch]]:
        """Following a wakeup sequence: the thread to run now and the other branches of the sequence's
        tree at this point, which stay in the new node's wakeup tree; ``(None, [])`` when no sequence
        is being followed (or it cannot be: the program did not do what it did before)."""
        follow = self.follow
        if follow is None:
            return None, []
        if self.tcount.get(follow.tid, 0) < follow.idx:
            # the step chosen last did not show in the trace yet (it took an internal lock of the
            # standard library, or waits for a thread it started): the same thread goes on with it
            level = [follow]
        else:
            level = follow.children
            while level and self.tcount.get(level[0].tid, 0) >= level[0].idx:
                level = level[0].children  # that step already ran, while it was the only one that could
        if level and level[0].tid not in enabled:
            # its thread waits for another one's invisible step (a thread start's handshake): run
            # that, which shows nothing in the trace, and keep to the sequence
            helper = next((t for t in enabled if pending[t][0] in INVISIBLE), None)
            if helper is not None:
                return helper, []
        steps = [b for b in level if b.tid in enabled]
        if not steps:
            self.follow = None
            return None, []
        self.follow = steps[0]
        return steps[0].tid, steps[1:]

    def _count(self, execution: Any) -> None:
        """Bring :attr:`tcount` up to date with the trace, cutting it into transitions exactly as
        :meth:`_transitions` does at the end, so that a wakeup step ``(tid, idx)`` can be told done."""
        trace = self._sync_events(execution)
        free = execution.model == "free-threaded"
        decided = self.decided_at
        for pos in range(self.scanned, len(trace)):
            event = trace[pos]
            tid = event.tid
            if tid == self.last_tid and decided.get(pos) != tid and (
                    event.kind == "release" or (not free and event.kind in ACCESS)):
                continue
            self.tcount[tid] = self.tcount.get(tid, 0) + 1
            self.last_tid = tid
        self.scanned = len(trace)

    def end(self, execution: Any) -> None:
        del self.nodes[self.position:]
        if self.nodes and len(self.trace_pos) >= len(self.nodes):
            self._check_sleepers(self.nodes[-1], execution, self.trace_pos[len(self.nodes) - 1])
        self._learn_next_ops(execution)
        if self._blocked:
            self.redundant += 1
        else:
            self.classes += 1
        self._analyse(execution)

    def _check_sleepers(self, node: _Node, execution: Any, start: int | None = None) -> None:
        """A thread asleep at the last decision ran while still asleep (it was the only one that
        could): this execution is equivalent to one already run (sleep-set blocked). A sleeper wakes
        up when something that does not commute with its next step runs before it."""
        if not node.sleep or self._blocked:
            return
        trace = self._sync_events(execution)
        asleep = {t: node.ops.get(t) or (None, None) for t in node.sleep}
        begin = self.trace_pos[-2] if start is None else start
        for pos in range(begin, len(trace)):
            event = trace[pos]
            if event.tid in asleep:
                self._blocked = True
                return
            op = (event.kind, event.what)
            for t in [t for t, pending in asleep.items() if dependent(pending, op)]:
                del asleep[t]
            if not asleep:
                return

    def _learn_next_ops(self, execution: Any) -> None:
        """Where a thread's next step at a decision showed nothing (a lock acquire's scheduling point,
        an internal lock of the standard library, a wake-up in ``Condition.wait``, a thread not yet
        run), what counts is its next *visible* step, as in the wakeup sequences: learn it from what
        the thread did next, so that sleep sets can keep the thread asleep until something that does
        not commute with that step runs."""
        firsts: dict[int, list[int]] = {}
        trace = self._sync_events(execution)
        for pos, event in enumerate(trace):
            firsts.setdefault(event.tid, []).append(pos)
        for d, node in enumerate(self.nodes):
            start = self.trace_pos[d] if d < len(self.trace_pos) else len(trace)
            for t, op in node.ops.items():
                if op[0] not in INVISIBLE:
                    continue
                positions = firsts.get(t, ())
                at = bisect_left(positions, start) if positions else 0
                if at < len(positions):
                    event = trace[positions[at]]
                    node.ops[t] = (event.kind, event.what)

    # -- exploration -----------------------------------------------------------------------------

    def _advance(self) -> bool:
        """Replay up to the deepest decision with a wakeup sequence left, and follow that sequence."""
        self.follow = None
        while self.nodes:
            node = self.nodes[-1]
            while node.wut:
                branch = node.wut.pop(0)
                if branch.tid in node.done or branch.tid in node.sleep:
                    continue  # cannot happen with exact dependences: a thread never runs twice from here
                node.chosen = branch.tid
                node.done.add(branch.tid)
                self.follow = branch
                return True
            self.nodes.pop()
        return False

    def _transitions(self, execution: Any) -> list[_Transition]:
        """The trace as transitions, each tagged with the decision that chose it (None: forced)."""
        decided: dict[int, int] = {}
        nodes, trace_pos = self.nodes, self.trace_pos
        for d, pos in enumerate(trace_pos):
            if d < len(nodes):
                decided[pos] = d  # the last decision at a position is the one whose thread ran
        for pos, d in decided.items():
            # a thread chosen again after a step that showed nothing (an internal lock, a wake-up in
            # Condition.wait): its transition began at the first of these decisions, and that is
            # where another thread can go first instead
            while d > 0 and trace_pos[d - 1] == pos and nodes[d - 1].chosen == nodes[d].chosen:
                d -= 1
            decided[pos] = d
        free = execution.model == "free-threaded"
        idents = self._lock_identities(execution)
        out: list[_Transition] = []
        last: dict[int, _Transition] = {}
        counts: dict[int, int] = {}
        at: dict[int, _Transition] = {}  # event position -> the transition it begins
        events = self._sync_events(execution)
        for pos, event in enumerate(events):
            tid = event.tid
            prev = last.get(tid)
            d = decided.get(pos)
            if d is not None and self.nodes[d].chosen != tid:
                d = None
            joins = prev is not None and prev is (out[-1] if out else None) and d is None and (
                event.kind == "release" or (not free and event.kind in ACCESS))
            what = idents.get(pos, event.what)
            if joins:
                prev.ops.append((event.kind, what))
                continue
            counts[tid] = counts.get(tid, 0) + 1
            t = _Transition(tid, d, counts[tid], len(out))
            t.ops.append((event.kind, what))
            out.append(t)
            last[tid] = t
            at[pos] = t
        for waker, tid, since in self.wakes:
            # the waiter's next step happens after the step of the notifier that released it
            woken = next((at[p] for p in range(since, len(events)) if events[p].tid == tid and p in at), None)
            source = at.get(waker) or next((at[p] for p in range(waker, -1, -1)
                                            if events[p].tid == events[waker].tid and p in at), None)
            if woken is not None and source is not None and source.pos < woken.pos:
                woken.after.append(source)
        return out

    def _lock_identities(self, execution: Any) -> dict[int, str]:
        """Trace position -> ``label#id`` for lock acquires and releases.

        Events name a lock by its label (where it was made), which several locks share (made on one
        line, in a loop): from the locks each thread held at each decision, tell them apart."""
        trace = self._sync_events(execution)
        snaps = self.held_snaps + [_held(execution)]
        bounds = self.trace_pos + [len(trace)]
        out: dict[int, str] = {}
        stacks: dict[int, list[tuple[int, str]]] = {}
        segment_start = 0
        for k in range(-1, len(bounds) - 1):
            before = snaps[k] if k >= 0 else {}
            after = snaps[k + 1]
            end = bounds[k + 1]
            queues: dict[int, list[tuple[int, str]]] = {}
            for pos in range(segment_start, end):
                event = trace[pos]
                if event.kind not in ("acquire", "release"):
                    continue
                tid, label = event.tid, event.what
                stack = stacks.setdefault(tid, [])
                now = after.get(tid, [])
                if event.kind == "acquire":
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
            segment_start = max(segment_start, end)
        return out

    def _analyse(self, execution: Any) -> None:
        trans = self._transitions(execution)
        names = {ts.name: ts.tid for ts in execution.threads}
        last_of: dict[int, _Transition] = {}
        starter: dict[int, _Transition] = {}  # tid -> the transition that started it
        pending_join: dict[int, list[int]] = {}  # tid -> threads joined by its previous transition
        next_tid = 1
        # per location base and thread: (its transitions that access it, those that write or delete it)
        by_base: dict[str, dict[int, tuple[list[_Transition], list[_Transition]]]] = {}
        universal_last: dict[int, _Transition] = {}  # tid -> its last call/sleep/unknown transition
        data_last: dict[int, _Transition] = {}  # tid -> its last transition with an access or a call
        # Locks are known by their label (where they were made), which two locks can share: every
        # release of a label by every thread counts, and "held" may name another lock of the label.
        lock_release: dict[str, dict[int, tuple[_Transition, _Transition]]] = {}  # label -> tid -> (rel, acq)
        holding: dict[tuple[int, str], list[_Transition]] = {}  # (tid, label) -> acquiring transitions
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
            candidates: list[tuple[int, _Transition, _Transition]] = []  # (position, edge from, race target)
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
                if _hb(edge, clock):
                    continue
                inside = acquires and target.held and any(
                    same_lock(lock, label) for label in acquires for lock in target.held)
                if not _hb(target, clock) and not inside:
                    # (j cannot go inside a critical section of the lock it acquires: see below)
                    self._race(target, j, trans, clock)
                if acquires and target.held:
                    # j cannot run inside a critical section of the lock it acquires: the reversal
                    # has to go before the acquire that began it (maybe the same lock: same label)
                    for label in acquires:
                        for lock, acqs in target.held.items():
                            if same_lock(lock, label):
                                for acq in acqs:
                                    if not _hb(acq, clock):
                                        self._race(acq, j, trans, clock)
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

    def _race(self, i: _Transition, j: _Transition, trans: list[_Transition], jclock: dict[int, int]) -> None:
        """``i`` and ``j`` race: make the decision before ``i`` run ``notdep(i).j`` (the transitions
        after ``i`` that do not depend on it, then ``j``), unless a thread asleep there or a sequence
        already in its wakeup tree starts an equivalent execution (Algorithm 2 of the paper)."""
        self.races += 1
        if i.decision is None or i.decision >= len(self.nodes):
            return  # nothing else could run there
        node = self.nodes[i.decision]
        seq = [(k, k.clock) for k in trans[i.pos + 1: j.pos] if not _hb(i, k.clock)]
        seq.append((j, jclock))
        for t in (node.sleep | node.done) - {node.chosen}:
            op = node.ops.get(t)
            if op is None or op[0] in NO_SLEEP:
                op = (None, None)  # not known: may not commute with anything
            if _weak_initial(t, (op,), seq):
                return  # a thread asleep here already covers it
        if seq[0][0].tid not in node.enabled:
            # start with an initial that can run here (any initial can go first)
            first = next((n for n in _initials(seq) if seq[n][0].tid in node.enabled), None)
            if first is None:
                self._fallback(node)
                return
            seq.insert(0, seq.pop(first))
        level = node.wut
        while True:
            for branch in level:
                if _weak_initial(branch.tid, branch.ops, seq):
                    at = next((n for n, (k, _) in enumerate(seq) if k.tid == branch.tid), None)
                    if at is not None:
                        del seq[at]
                    if not branch.children or not seq:
                        return  # an equivalent sequence is already there
                    level = branch.children
                    break
            else:
                for k, _ in seq:
                    step = _Branch(k.tid, k.idx, _portable(k.ops))
                    level.append(step)
                    level = step.children
                return

    def _fallback(self, node: _Node) -> None:
        """No thread that can start the reversal runs at this decision (the model does not explain
        it): try every thread there, one step each."""
        queued = {b.tid for b in node.wut}
        for t in node.enabled:
            if t not in node.done and t not in node.sleep and t not in queued:
                step = _Branch(t, 0, ((None, None),))
                node.wut.append(step)

    # -- reporting -------------------------------------------------------------------------------

    def coverage(self) -> dict[str, Any]:
        left = sum(_leaves(n.wut) for n in self.nodes)
        return {
            "strategy": "DPOR",
            "classes": self.classes,
            "unit": "interleaving classes",
            "redundant": self.redundant,
            "bound": None,
            "complete": self.done,
            "estimate": float(self.classes + (0 if self.done else left)),
        }

    def describe(self) -> str:
        return "dpor"


def _pending_op(ts: Any) -> tuple:
    """What thread ``ts`` does when it next runs, as ``(kind, what)``. Before a lock acquire the
    runtime's ``pending`` is None and ``pending_lock`` is the lock: an acquire of its label (lock
    identities are ids of objects, which differ from one execution to the next, and what is known
    about a decision is kept across executions), or an internal lock of the standard library."""
    kind = ts.pending
    if kind is None:
        lock = getattr(ts, "pending_lock", None)
        if lock is not None:
            if getattr(lock, "internal", False):
                return ("handshake", None) if _handshake(lock) else ("internal", lock.label)
            return ("acquire", getattr(lock, "label", "?"))
    return (kind, ts.pending_what)


def _handshake(lock: Any) -> bool:
    """Whether ``lock`` is the internal lock of a ``threading.Thread`` (its start handshake, made where
    the thread was): the start and join edges already order what it orders, and it is touched by no
    one else, so it stays out of the model (as a hidden event it would conflict with every call)."""
    label = getattr(lock, "label", "")
    return label == "Thread" or label.startswith("Thread@")


def _held(execution: Any) -> dict[int, list[tuple[int, str]]]:
    out = {}
    for ts in execution.threads:
        if ts.held:
            out[ts.tid] = [(id(lock), getattr(lock, "label", "?")) for lock in ts.held]
    return out


def _initials(seq: list[tuple[_Transition, dict[int, int]]]) -> list[int]:
    """Positions in ``seq`` of the transitions nothing earlier in ``seq`` happens before."""
    out = []
    seen: set[int] = set()
    for n, (k, clock) in enumerate(seq):
        if k.tid not in seen:
            seen.add(k.tid)
            if not any(_hb(m, clock) for m, _ in seq[:n] if m.tid != k.tid):
                out.append(n)
    return out


def _weak_initial(tid: int, ops: tuple, seq: list[tuple[_Transition, dict[int, int]]]) -> bool:
    """Whether thread ``tid`` (whose next step does ``ops``) can go first in an execution that
    extends ``seq`` (the paper's weak initials): its first transition in ``seq`` has nothing of
    another thread before it, or it has none and ``ops`` commute with all of ``seq``."""
    for n, (k, clock) in enumerate(seq):
        if k.tid == tid:
            return not any(_hb(m, clock) for m, _ in seq[:n] if m.tid != tid)
    return not any(dependent(a, b) for a in ops for k, _ in seq for b in k.ops)


def _portable(ops: list[tuple]) -> tuple:
    """``ops`` as a wakeup step keeps them for later executions: without the lock identities, which
    are ids of this execution's lock objects (a lock is then any lock of its label: a conflict more
    at worst)."""
    return tuple((kind, what.rpartition("#")[0]) if kind in ("acquire", "release") and "#" in str(what)
                 else (kind, what) for kind, what in ops)


def _leaves(level: list[_Branch]) -> int:
    return sum(_leaves(b.children) if b.children else 1 for b in level)


def _join(into: dict[int, int], other: dict[int, int]) -> None:
    for tid, n in other.items():
        if into.get(tid, 0) < n:
            into[tid] = n

