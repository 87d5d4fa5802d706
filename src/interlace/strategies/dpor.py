"""DPOR: dynamic partial order reduction with source sets and sleep sets (Abdulla et al., POPL 2014).

Two interleavings that differ only in the order of independent operations (a Mazurkiewicz trace) end
in the same state; DPOR runs one execution per trace instead of one per interleaving. This is the
*source-DPOR* algorithm with sleep sets (Algorithm 1 of the paper), not optimal DPOR with wakeup trees:
with two threads it runs exactly one execution per trace; with three or more it can start an
execution that turns out to be equivalent to one already run ("sleep-set blocked"; counted in
:meth:`coverage` as ``redundant``). What it does not model (a failed non-blocking acquire, the steps
of an iteration, hand-offs inside the standard library) is listed in ``docs/strategies.md``.

After each execution, :meth:`end` rebuilds the trace as *transitions* (what one thread did from one
scheduling point to its next), computes happens-before with vector clocks (program order, thread
start and join, lock release -> next acquire, conflicting accesses) and, for every race (two
conflicting transitions of different threads, the first not ordered before the second by anything
else), makes sure the scheduling point before the first one also tries a thread that can start the
reversed order. The next execution replays the decisions up to the deepest point with such an
alternative left and takes it.

Dependence (:func:`dependent`): accesses of the same location conflict unless both are reads
(``list[0]`` and ``list[1]`` are different locations; a whole-container operation conflicts with
all its items, and the writes of two keys of a mapping conflict, since a new key resizes it under an
iteration in progress); two acquires of the same lock conflict; a ``call`` into code interlace
cannot see, a ``sleep`` and an operation whose kind is unknown (``None``, e.g. a lock acquire before it happens)
conflict with everything. Locations are named by type and attribute (``Box.value``), so two objects of
the same type are one location: a sound over-approximation.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from .base import Strategy
from .dfs import useful

ACCESS = frozenset({"read", "write", "delete"})
#: operations ordered by happens-before edges, never by conflicts
EDGE_ONLY = frozenset({"start", "join", "release", "loop", "finish"})


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
    if ka in ACCESS and kb in ACCESS:
        if ka == "read" and kb == "read":
            return False
        return _same_location(str(wa), str(wb))
    if ka == "acquire" and kb == "acquire":
        return same_lock(wa, wb)
    if ka == "internal" or kb == "internal":
        return ka in ("call", "internal", None) and kb in ("call", "internal", None)
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


class _Node:
    """One decision of the current path."""

    __slots__ = ("enabled", "chosen", "backtrack", "done", "sleep", "ops")

    def __init__(self, enabled: list[int], chosen: int, sleep: set[int], ops: dict[int, tuple]) -> None:
        self.enabled = enabled
        self.chosen = chosen
        self.backtrack = {chosen}
        self.done = {chosen}
        self.sleep = sleep
        self.ops = ops


class _Transition:
    __slots__ = ("tid", "ops", "decision", "idx", "clock", "pos", "held")

    def __init__(self, tid: int, decision: int | None, idx: int, pos: int) -> None:
        self.tid = tid
        self.ops: list[tuple] = []
        self.decision = decision
        self.idx = idx
        self.clock: dict[int, int] = {}
        self.pos = pos
        self.held: dict[str, list] | None = None  # locks its thread holds: label -> acquires


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
        return True

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        d = self.position
        self.position += 1
        self.trace_pos.append(len(execution.trace))
        self.held_snaps.append(_held(execution))
        if 0 < d <= len(self.nodes):
            self._learn_internal(self.nodes[d - 1], enabled, execution)
            self._check_sleepers(self.nodes[d - 1], execution)
        if d < len(self.nodes):
            node = self.nodes[d]
            if node.chosen in enabled:
                return node.chosen
            del self.nodes[d:]  # not deterministic: continue as a new path
        enabled = useful(enabled, execution)
        if current not in enabled:
            current = None
        threads = execution.threads
        ops = {t: (threads[t].pending, threads[t].pending_what) for t in enabled}
        sleep: set[int] = set()
        if d > 0 and d - 1 < len(self.nodes):
            parent = self.nodes[d - 1]
            executed = [(e.kind, e.what) for e in execution.trace[self.trace_pos[d - 1]:]]
            for t in (parent.sleep | parent.done) - {parent.chosen}:
                op = parent.ops.get(t)
                if t not in ops or op is None or op[0] in ("join", "start"):
                    continue
                if op != ops[t] and not (ops[t] == (None, None) and op[0] in ("acquire", "internal")):
                    continue
                if not any(dependent(op, e) for e in executed):
                    sleep.add(t)
                    ops[t] = op  # what it will do, learnt in an earlier execution
        awake = [t for t in enabled if t not in sleep]
        if not awake:
            self._blocked = True
            awake = enabled
        tid = current if current in awake else awake[0]
        self.nodes.append(_Node(list(enabled), tid, sleep, ops))
        return tid

    def end(self, execution: Any) -> None:
        del self.nodes[self.position:]
        if self.nodes and len(self.trace_pos) >= len(self.nodes):
            self._check_sleepers(self.nodes[-1], execution, self.trace_pos[len(self.nodes) - 1])
        self._learn_acquires(execution)
        if self._blocked:
            self.redundant += 1
        else:
            self.classes += 1
        self._analyse(execution)

    def _check_sleepers(self, node: _Node, execution: Any, start: int | None = None) -> None:
        """A thread asleep at the last decision ran anyway (it was the only one that could): this
        execution is equivalent to one already run (sleep-set blocked)."""
        if not node.sleep or self._blocked:
            return
        trace = execution.trace
        begin = self.trace_pos[-2] if start is None else start
        for pos in range(begin, len(trace)):
            if trace[pos].tid in node.sleep:
                self._blocked = True
                return

    def _learn_internal(self, parent: _Node, enabled: list[int], execution: Any) -> None:
        """The thread chosen at the previous decision was pending ``(None, None)``, did nothing the
        trace shows and can still run: it took one of the standard library's internal locks (an
        Event's, a Queue's mutex), which the program can only reach through calls (that conflict with
        everything)."""
        chosen = parent.chosen
        if parent.ops.get(chosen) != (None, None) or chosen not in enabled:
            return
        trace = execution.trace
        for pos in range(self.trace_pos[-2], len(trace)):
            if trace[pos].tid == chosen:
                return
        parent.ops[chosen] = ("internal", None)

    def _learn_acquires(self, execution: Any) -> None:
        """A thread about to acquire a lock is pending ``(None, None)`` (the runtime does not say
        which lock): learn it from what the thread did next, so that sleep sets can keep it asleep."""
        firsts: dict[int, list[int]] = {}
        trace = execution.trace
        for pos, event in enumerate(trace):
            firsts.setdefault(event.tid, []).append(pos)
        for d, node in enumerate(self.nodes):
            start = self.trace_pos[d] if d < len(self.trace_pos) else len(execution.trace)
            for t, op in node.ops.items():
                if op != (None, None):
                    continue
                positions = firsts.get(t, ())
                at = bisect_left(positions, start) if positions else 0
                if at < len(positions) and trace[positions[at]].kind == "acquire":
                    node.ops[t] = ("acquire", trace[positions[at]].what)

    # -- exploration -----------------------------------------------------------------------------

    def _advance(self) -> bool:
        while self.nodes:
            node = self.nodes[-1]
            todo = sorted(node.backtrack - node.done - node.sleep)
            if todo:
                node.chosen = todo[0]
                node.done.add(node.chosen)
                return True
            self.nodes.pop()
        return False

    def _transitions(self, execution: Any) -> list[_Transition]:
        """The trace as transitions, each tagged with the decision that chose it (None: forced)."""
        decided: dict[int, int] = {}
        for d, pos in enumerate(self.trace_pos):
            if d < len(self.nodes):
                decided[pos] = d  # the last decision at a position is the one whose thread ran
        free = execution.model == "free-threaded"
        idents = self._lock_identities(execution)
        out: list[_Transition] = []
        last: dict[int, _Transition] = {}
        counts: dict[int, int] = {}
        for pos, event in enumerate(execution.trace):
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
        return out

    def _lock_identities(self, execution: Any) -> dict[int, str]:
        """Trace position -> ``label#id`` for lock acquires and releases.

        Events name a lock by its label (where it was made), which several locks share (made on one
        line, in a loop): from the locks each thread held at each decision, tell them apart."""
        trace = execution.trace
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
            clock[j.tid] = j.idx
            held = {label: list(acqs) for (tid, label), acqs in holding.items() if tid == j.tid and acqs}
            if held:
                j.held = held  # the locks its thread holds when j begins
            # the candidates for a direct conflict: the latest dependent transition of each thread
            is_universal = any(k not in ACCESS and k not in EDGE_ONLY and k != "acquire" for k, _ in j.ops)
            candidates: list[tuple[int, _Transition, _Transition]] = []  # (position, edge from, race target)
            for u in last_of:
                if u == j.tid:
                    continue
                if is_universal:
                    latest = data_last.get(u)
                else:
                    latest = universal_last.get(u)
                    for kind, what in j.ops:
                        if kind not in ACCESS:
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
                if not _hb(target, clock):
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
                elif kind in ACCESS:
                    lists = by_base.setdefault(base_of(what), {}).setdefault(j.tid, ([], []))
                    if not lists[0] or lists[0][-1] is not j:
                        lists[0].append(j)
                    if kind != "read" and (not lists[1] or lists[1][-1] is not j):
                        lists[1].append(j)
            if is_universal:
                universal_last[j.tid] = j
            if is_universal or any(kind in ACCESS for kind, _ in j.ops):
                data_last[j.tid] = j
            last_of[j.tid] = j

    def _race(self, i: _Transition, j: _Transition, trans: list[_Transition], jclock: dict[int, int]) -> None:
        """``i`` and ``j`` race: let the decision before ``i`` also start the reversed order."""
        self.races += 1
        if i.decision is None or i.decision >= len(self.nodes):
            return  # nothing else could run there
        node = self.nodes[i.decision]
        # v = the transitions after i that do not depend on it, then j: its initials can go first
        v = [k for k in trans[i.pos + 1: j.pos] if not _hb(i, k.clock)]
        initials: list[int] = []
        seen: set[int] = set()
        for n, k in enumerate(v):
            if k.tid not in seen:
                seen.add(k.tid)
                if not any(_hb(m, k.clock) for m in v[:n] if m.tid != k.tid):
                    initials.append(k.tid)
        if j.tid not in seen and not any(_hb(m, jclock) for m in v):
            initials.append(j.tid)
        if node.backtrack & set(initials):
            return
        runnable = [t for t in initials if t in node.enabled]
        if j.tid in runnable:
            node.backtrack.add(j.tid)
        elif runnable:
            node.backtrack.add(runnable[0])
        else:
            node.backtrack.update(node.enabled)

    # -- reporting -------------------------------------------------------------------------------

    def coverage(self) -> dict[str, Any]:
        left = sum(len(n.backtrack - n.done - n.sleep) for n in self.nodes)
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


def _held(execution: Any) -> dict[int, list[tuple[int, str]]]:
    out = {}
    for ts in execution.threads:
        if ts.held:
            out[ts.tid] = [(id(lock), getattr(lock, "label", "?")) for lock in ts.held]
    return out


def _join(into: dict[int, int], other: dict[int, int]) -> None:
    for tid, n in other.items():
        if into.get(tid, 0) < n:
            into[tid] = n

