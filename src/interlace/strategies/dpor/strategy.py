"""The DPOR strategy: which thread runs at each decision, sleep sets, and what to run next.

At each decision of the current path a :class:`_Node` keeps the threads that could run, the one
chosen, the threads already run from there and the sleep set (threads whose next step was explored
from here and commutes with everything run since), and the decision's wakeup tree (:mod:`.wakeup`).
After each execution, :meth:`DPOR.end` cuts the execution into transitions (:mod:`.transitions`) and
for each race (:mod:`.races`) inserts the reversal in the wakeup tree of the decision before it. The
next execution (:meth:`DPOR.begin`) replays the decisions up to the deepest one with a sequence left
and follows that sequence, step by step.

An execution that a sleep set blocks anyway (only sleeping threads can run) cannot be abandoned
half-way: it runs to its end and is counted in :meth:`DPOR.coverage` as ``redundant``, not as a class.
With exact dependences that never happens.

Steps that show nothing in the trace (the scheduling point of a lock acquire, a wake-up inside
``Condition.wait``, the start of a thread and its handshake) are not transitions: a thread chosen
there and chosen again at once runs one transition, reversible at the first of these decisions; sleep
sets keep a thread asleep on its next *visible* step (learnt from what it did next); and while a
sequence's next thread waits for such a step of another thread (a thread start's handshake), that
step runs without leaving the sequence. A transition that began at a chain of such decisions can go
after another thread at any of them: a thread asleep or already run at any of them covers a reversal
(:meth:`DPOR._race`); and a reversal whose first thread waits in ``Thread.start()`` where it must go
goes below a step that runs only the new thread's handshake (:func:`.wakeup.helper`). Before a lock
acquire the runtime says which lock (``ThreadState.pending_lock``); lock identities (ids of lock
objects) distinguish locks within an execution, and what is kept across executions names a lock by its
label only.

A long execution (the seed article's 40 threads x 10,000 increments: 800,000 steps) is explored up to
a horizon: DPOR keeps the trace and makes decisions of its own for the first :data:`HORIZON` events
only; then the execution stops tracing and runs to its end under a fair default (the running thread
goes on for up to ``SPIN_LIMIT`` points, by quanta of the fast path, then the next one). The races of
the prefix are reversed as usual; the classes counted are those of the prefix, and the coverage says
so (``horizon``): a bounded claim, as DFS's preemption bound is. Without the horizon one execution of
such a program kept about 2 GB of trace, decisions and transitions, and analysed them for a minute.

A transition can do more than its first step shows (a hidden read such as ``Event.is_set``, the end of
its thread: :mod:`.transitions`): a thread sleeps on all of it (``_Node.extra``, learnt once it ran
from that decision), or a step that conflicts only with the rest would leave it asleep.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from ..base import Strategy
from ..dependence import EDGE_ONLY, dependent
from ..dfs import useful
from .races import races
from .transitions import EventLog, Transition, continues, handshake, hb, held_locks, lock_identities, transitions
from .wakeup import Branch, helper, initials, insert, leaves, portable, weak_initial

#: pending operations whose step shows nothing in the trace: a thread not yet run (``start``), a
#: wake-up inside ``Condition.wait`` (``None``), the internal lock of a thread start's handshake
INVISIBLE = frozenset({None, "start", "handshake"})
#: points a thread runs in a row, while others could, before the default choice goes to another
SPIN_LIMIT = 64
#: a thread about to do one of these is never put asleep: its step is not known, or it commutes with
#: everything that is reported and is ordered only by a happens-before edge
NO_SLEEP = INVISIBLE | {"join", "start"}
#: the events of an execution DPOR traces and decides (see the module's docstring)
HORIZON = 20_000


class _Node:
    """One decision of the current path.

    ``wut`` is the wakeup tree of the decision minus the branch being run: the sequences still to run
    from here, in the order they were found. ``done`` are the threads already run from here (with
    ``sleep``, what the paper calls the sleep set of the node once they are finished). ``ops`` is each
    thread's next step; ``extra`` what a thread's transition from here did after that step, when it
    did more (a hidden read such as ``Event.is_set``, the end of the thread; the accesses of the
    ``gil`` model): a thread sleeps on its whole transition, not just on its first step, or a write
    that only conflicts with the rest would leave it asleep."""

    __slots__ = ("enabled", "chosen", "done", "sleep", "ops", "wut", "extra", "starting")

    def __init__(self, enabled: list[int], chosen: int, sleep: set[int], ops: dict[int, tuple],
                 wut: list[Branch]) -> None:
        self.enabled = enabled
        self.chosen = chosen
        self.done = {chosen}
        self.sleep = sleep
        self.ops = ops
        self.wut = wut
        self.extra: dict[int, tuple] = {}
        # threads not run yet or in their start's handshake here: one of them may be what a thread
        # blocked in ``Thread.start()`` waits for (see :meth:`DPOR._race`)
        self.starting = [t for t in enabled if ops.get(t, (None,))[0] in ("start", "handshake")]


class DPOR(Strategy):
    name = "dpor"
    needs_trace = True  # its transitions are read off the trace

    @property
    def trace_horizon(self) -> int:
        """The events of the trace it reads: the execution records no more (see Execution.trace_limit)."""
        return self.horizon

    def __init__(self, seed: int = 0, horizon: int = HORIZON) -> None:
        super().__init__(seed)
        self.horizon = horizon
        self.cut = False  # this execution went past the horizon
        self.cut_any = False  # some execution did: the classes counted are those of the prefixes
        self.cut_held: dict[int, list[tuple[int, str]]] | None = None  # held_locks() at the cut
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
        self.follow: Branch | None = None
        # transitions so far of each thread in this execution (as :func:`.transitions.transitions` cuts them)
        self.tcount: dict[int, int] = {}
        self.scanned = 0
        self.last_tid: int | None = None
        self.decided_at: dict[int, int] = {}  # trace position -> thread chosen by the last decision there
        # the execution's trace with the hidden events (:meth:`hidden_sync`) in place: every
        # position above is a position in ``log.events``
        self.log = EventLog()

    # -- the interface ---------------------------------------------------------------------------

    def begin(self, index: int) -> bool:
        super().begin(index)
        if self.done:
            return False
        if self.started and not self._advance():
            self.done = True
            return False
        self.started = True
        self.cut = False
        self.cut_held = None
        self.position = 0
        self.trace_pos = []
        self.held_snaps = []
        self._blocked = False
        self.tcount = {}
        self.scanned = 0
        self.last_tid = None
        self.decided_at = {}
        self.log = EventLog()
        return True

    def hidden_sync(self, execution: Any, kind: str, ts: Any, lock: Any) -> None:
        """Called by the runtime for lock operations that the trace does not show (see locks.py and
        :meth:`.transitions.EventLog.hidden`)."""
        if not self.cut:
            self.log.hidden(execution, kind, ts, lock)

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        if self.cut:
            return _fair(enabled, current, execution)
        events = self.log.sync(execution)
        pos = len(events)
        if pos >= self.horizon:
            self.cut = self.cut_any = True
            self.cut_held = held_locks(execution)
            execution.stop_tracing()
            return _fair(enabled, current, execution)
        # Most decisions replay one of the path (139 of the 160 of an execution of the speed bench's
        # locked counter): that case does only what the analysis needs of every decision.
        d = self.position
        self.position = d + 1
        self.trace_pos.append(pos)
        self.held_snaps.append(held_locks(execution))
        nodes = self.nodes
        if 0 < d <= len(nodes) and nodes[d - 1].sleep:
            self._check_sleepers(nodes[d - 1], execution)
        if d < len(nodes):
            chosen = nodes[d].chosen
            if chosen in enabled:
                self.decided_at[pos] = chosen
                return chosen
            del nodes[d:]  # not deterministic: continue as a new path
            self.follow = None
        enabled = useful(enabled, execution)
        if current not in enabled:
            current = None
        threads = execution.threads
        pending = {t: _pending_op(threads[t]) for t in enabled}
        ops = dict(pending)  # and for sleepers, the visible step they sleep on
        sleep: set[int] = set()
        extra: dict[int, tuple] = {}
        if d > 0 and d - 1 < len(self.nodes):
            parent = self.nodes[d - 1]
            segment = events[self.trace_pos[d - 1]:]
            candidates = (parent.sleep | parent.done) - {parent.chosen}
            if parent.chosen in parent.sleep and all(e.tid != parent.chosen for e in segment):
                candidates.add(parent.chosen)  # a sleeper that took a step showing nothing sleeps on
            executed = [(e.kind, e.what) for e in segment] if candidates else []
            for t in candidates:
                op = parent.ops.get(t)
                if t not in ops or op is None or op[0] in NO_SLEEP:
                    continue
                if op != ops[t] and ops[t][0] not in INVISIBLE:
                    continue  # it is about to do something else: not the step that was explored
                more = parent.extra.get(t, ())
                if not any(dependent(o, e) for o in (op, *more) for e in executed):
                    sleep.add(t)
                    ops[t] = op  # what it will do, learnt in an earlier execution
                    if more:
                        extra[t] = more
        awake = [t for t in enabled if t not in sleep]
        if not awake:
            # a sleeper may still take a step that shows nothing (its visible step stays asleep)
            awake = [t for t in enabled if pending[t][0] in INVISIBLE]
        if not awake:
            self._blocked = True
            awake = enabled
        if self.follow is not None:
            self._count(events, execution.model == "free-threaded")  # what _plan needs
        tid, wut = self._plan(enabled, pending)
        if tid is None:
            # any awake thread will do (the wakeup trees hold the other orders)
            tid = _fair(awake, current, execution)
        node = _Node(list(enabled), tid, sleep, ops, wut)
        node.extra = extra
        self.nodes.append(node)
        self.decided_at[pos] = tid
        return tid

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        """Past the horizon, the points :func:`_fair` would give ``chosen`` anyway pass without asking
        (see ``Strategy.quantum``); before it, DPOR decides every point."""
        if not self.cut:
            return 0
        running = execution.current
        if running is not None and running.tid == chosen:
            return max(SPIN_LIMIT - execution.threads[chosen].run_length - 1, 0)
        return SPIN_LIMIT - 1

    def stayed(self, n: int) -> None:
        """Points taken by a quantum, past the horizon: nothing DPOR keeps."""

    def _plan(self, enabled: list[int], pending: dict[int, tuple]) -> tuple[int | None, list[Branch]]:
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

    def _count(self, trace: list[Any], free: bool) -> None:
        """Bring :attr:`tcount` up to date with the trace (``self.log.events``; ``free``: the
        free-threaded model), cutting it into transitions exactly as :func:`.transitions.transitions`
        does at the end, so that a wakeup step ``(tid, idx)`` can be told done. Only while a wakeup
        sequence is followed (:meth:`_plan`): the positions it reads were decided before, so counting
        late counts the same."""
        decided = self.decided_at
        for pos in range(self.scanned, len(trace)):
            event = trace[pos]
            tid = event.tid
            if tid == self.last_tid and decided.get(pos) != tid and continues(event, free):
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
        trace = self.log.sync(execution)
        asleep = {t: (node.ops.get(t) or (None, None), *node.extra.get(t, ())) for t in node.sleep}
        begin = self.trace_pos[-2] if start is None else start
        for pos in range(begin, len(trace)):
            event = trace[pos]
            if event.tid in asleep:
                self._blocked = True
                return
            op = (event.kind, event.what)
            for t in [t for t, steps in asleep.items() if any(dependent(s, op) for s in steps)]:
                del asleep[t]
            if not asleep:
                return

    def _learn_next_ops(self, execution: Any) -> None:
        """Where a thread's next step at a decision showed nothing (a lock acquire's scheduling point,
        an internal lock of the standard library, a wake-up in ``Condition.wait``, a thread not yet
        run), what counts is its next *visible* step, as in the wakeup sequences: learn it from what
        the thread did next, so that sleep sets can keep the thread asleep until something that does
        not commute with that step runs."""
        todo = [(d, node, t) for d, node in enumerate(self.nodes) for t, op in node.ops.items() if op[0] in INVISIBLE]
        if not todo:
            return
        firsts: dict[int, list[int]] = {t: [] for _, _, t in todo}  # each such thread's positions in the trace
        trace = self.log.sync(execution)
        for pos, event in enumerate(trace):
            positions = firsts.get(event.tid)
            if positions is not None:
                positions.append(pos)
        for d, node, t in todo:
            start = self.trace_pos[d] if d < len(self.trace_pos) else len(trace)
            positions = firsts[t]
            at = bisect_left(positions, start)
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
                if take(node, branch):
                    self.follow = branch
                    return True
            self.nodes.pop()
        return False

    def analysis(self, execution: Any) -> tuple[list[Transition], list[tuple[int, int, dict[int, int]]]]:
        """The execution as transitions, and its races as ``(i.pos, j.pos, j's clock then)``: a function
        of the execution and the path's choices alone (``drivers/dpor_workers.py`` takes a worker's
        instead of working it out again for an execution it made the same choices in)."""
        trace = self.log.sync(execution)
        last = self.cut_held if self.cut else held_locks(execution)
        idents = lock_identities(trace, self.held_snaps + [last], self.trace_pos + [len(trace)])
        tasks = frozenset(ts.tid for ts in execution.threads if ts.task is not None)
        trans = transitions(self.log, [node.chosen for node in self.nodes], self.trace_pos, idents,
                            execution.model == "free-threaded", tasks)
        names = {ts.name: ts.tid for ts in execution.threads}
        return trans, [(i.pos, j.pos, dict(clock)) for i, j, clock in races(trans, names)]

    def _analyse(self, execution: Any) -> None:
        """The execution as transitions, and for each of its races, the reversal to run. An execution
        with no decision (every step forced: an asyncio program whose loop had one step that could run
        at each turn) has nothing to reverse, and no decision to note what a transition did after its
        first step at: no analysis (it was the whole DPOR overhead of such an execution, after its trace)."""
        if not self.nodes:
            return
        trans, found = self.analysis(execution)
        for t in trans:
            # what each chosen transition did after its first step (see :class:`_Node`)
            if t.decision is not None and len(t.ops) > 1:
                node = self.nodes[t.decision]
                if node.chosen == t.tid:
                    more = portable([op for op in t.ops[1:] if op[0] not in EDGE_ONLY])
                    if more:
                        node.extra[t.tid] = more
        for i, j, clock in found:
            self._race(trans[i], trans[j], trans, clock)

    def _race(self, i: Transition, j: Transition, trans: list[Transition], jclock: dict[int, int]) -> None:
        """``i`` and ``j`` race: make the decision before ``i`` run ``notdep(i).j`` (the transitions
        after ``i`` that do not depend on it, then ``j``), unless a thread asleep there (or at a later
        decision where ``i``'s thread went on with steps that showed nothing, ``i.later``) or a sequence
        already in its wakeup tree starts an equivalent execution (Algorithm 2 of the paper). When no
        initial of the sequence can run there because one waits in ``Thread.start()`` for the new
        thread's handshake, the sequence goes below a step that runs that handshake only."""
        self.races += 1
        if i.decision is None or i.decision >= len(self.nodes):
            return  # nothing else could run there
        node = self.nodes[i.decision]
        seq = [(k, k.clock) for k in trans[i.pos + 1: j.pos] if not hb(i, k.clock)]
        seq.append((j, jclock))
        # i began at its decision and went on at ``i.later`` (steps that showed nothing, such as a thread
        # start's handshake): another thread run from any of these (they differ only by those steps)
        # goes before i just the same
        for at in (i.decision, *i.later):
            if at >= len(self.nodes):
                break
            other = self.nodes[at]
            for t in (other.sleep | other.done) - {other.chosen}:
                op = other.ops.get(t)
                if op is None or op[0] in NO_SLEEP:
                    op = (None, None)  # not known: may not commute with anything
                if weak_initial(t, (op, *other.extra.get(t, ())), seq):
                    return  # a thread asleep here already covers it
        if seq[0][0].tid not in node.enabled:
            # start with an initial that can run here (any initial can go first)
            first = next((n for n in initials(seq) if seq[n][0].tid in node.enabled), None)
            if first is None:
                self._fallback(node)
                if node.starting:
                    # an initial may wait in ``Thread.start()`` for the new thread's handshake, a step
                    # that shows nothing: run that first (a step of no transition, :func:`.wakeup.helper`),
                    # then the sequence (:meth:`_plan` runs the handshake of the thread it waits for)
                    insert(helper(node.wut, node.starting[0]).children, seq)
                return
            seq.insert(0, seq.pop(first))
        insert(node.wut, seq)

    def _fallback(self, node: _Node) -> None:
        """No thread that can start the reversal runs at this decision (the model does not explain
        it): try every thread there, one step each."""
        queued = {b.tid for b in node.wut}
        for t in node.enabled:
            if t not in node.done and t not in node.sleep and t not in queued:
                step = Branch(t, 0, ((None, None),))
                node.wut.append(step)

    # -- reporting -------------------------------------------------------------------------------

    def coverage(self) -> dict[str, Any]:
        left = sum(leaves(n.wut) for n in self.nodes)
        return {
            "strategy": "DPOR",
            "classes": self.classes,
            "unit": "interleaving classes",
            "redundant": self.redundant,
            "bound": None,
            "horizon": self.horizon if self.cut_any else None,
            "complete": self.done,
            "estimate": float(self.classes + (0 if self.done else left)),
        }

    def describe(self) -> str:
        return "dpor"


def take(node: _Node, branch: Branch) -> bool:
    """Make ``branch`` (just taken off ``node``'s wakeup tree) the thread ``node`` runs next; False when
    it is to be skipped. Also what a coordinator does to the decisions of a copy of the tree for the
    branches before the one a worker runs (``drivers/dpor_workers.py``)."""
    if branch.ops and (branch.tid in node.done or branch.tid in node.sleep):
        return False  # cannot happen with exact dependences: a thread never runs twice from here
    if not branch.ops and branch.tid in node.done:
        # a thread start's handshake only (:func:`.wakeup.helper`) of a thread that already
        # ran from here: it sleeps on the step it ran then, as before the handshake
        node.sleep.add(branch.tid)
    node.chosen = branch.tid
    node.done.add(branch.tid)
    return True


def _fair(enabled: list[int], current: int | None, execution: Any) -> int:
    """The default choice: the running thread goes on, but not once it has run ``SPIN_LIMIT`` points in
    a row while others could (a spin loop, Peterson's wait, only lasts while the thread it waits for is
    not scheduled, as in any fair scheduler): then the next one in turn (round robin by thread id); a
    thread whose sleep or timeout has not expired runs only when nothing else can (a reversal wakes it
    early where that matters)."""
    threads = execution.threads
    running = [t for t in enabled if threads[t].deadline is None] or enabled
    if current in running and (threads[current].run_length < SPIN_LIMIT or len(running) == 1):
        return current
    # the next thread after the current one, in turn: always the first other one let two spinners
    # (one waiting for a third thread) take turns forever while the third never ran
    if current is None:
        return running[0]
    return next((t for t in running if t > current), running[0])


def _pending_op(ts: Any) -> tuple:
    """What thread ``ts`` does when it next runs, as ``(kind, what)``. Before a lock acquire the
    runtime's ``pending`` is None and ``pending_lock`` is the lock: an acquire of its label (lock
    identities are ids of objects, which differ from one execution to the next, and what is known
    about a decision is kept across executions), or an internal lock of the standard library."""
    if ts.deadline is not None:
        return (None, None)  # asleep or in a timed wait: what it does when it wakes is not known yet
    kind = ts.pending
    if kind is None:
        lock = getattr(ts, "pending_lock", None)
        if lock is not None:
            if getattr(lock, "internal", False):
                return ("handshake", None) if handshake(lock) else ("internal", lock.ident)
            return ("acquire", getattr(lock, "label", "?"))
    return (kind, ts.pending_what)
