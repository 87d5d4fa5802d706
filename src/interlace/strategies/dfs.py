"""Depth-first enumeration of schedules with iterative preemption bounding (CHESS, Musuvathi & Qadeer).

Every execution is a path of decisions (one per scheduling point where several threads could run);
the strategy keeps the paths run so far as a tree. One DFS walks the tree: at each node it takes each
choice allowed by the preemption bound; where the tree has no child for that choice yet, the next
execution replays the path to the node, takes the choice and then continues with the non-preemptive
default (the running thread continues, else the lowest enabled thread); its path becomes the new
branch of the tree. A *preemption* is choosing another thread while the running one could continue.

Iterative bounding: every schedule with at most 0 preemptions, then at most 1, 2, ... up to
``max_preemptions`` (None: no limit). A later iteration walks the part of the tree already built
without running it again, so every execution is a new schedule. When an iteration never had to skip
a choice because of the bound, the whole space has been run and :meth:`begin` returns False
(``result.exhausted``).

Split between workers (``--workers N``, see :mod:`interlace.drivers.tree_workers`): the first
execution's path, the *spine*, takes the default at every node; every other execution leaves it at
one first non-default choice, and the subtree below that choice is a *unit*, numbered in walk order
(deepest spine node first, as the walk meets them). Units are independent: what the walk of one
runs depends only on the tree below it. An instance with a :attr:`DFS.claim` runs the first
execution and then only the units it claims, in each iteration; each execution's
:attr:`DFS.position` (iteration, unit, offset in that unit's part of the iteration) orders the
executions of all workers exactly as one instance runs them. A unit's walk in an iteration needs
the unit's tree of the iterations before: an instance claiming a unit another walked before first
walks it again through those iterations (*catching up*: :attr:`DFS.catching_up` names the unit
while it does), executions no one reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .base import Strategy

_END = "end"  # the child of a path's last choice: the execution ended there


class _Call:
    """What a step of the walk yields to walk a subtree: the trampoline runs ``walk`` to its end, then
    resumes the step (as ``yield from walk`` would, without a Python frame per level of the tree)."""

    __slots__ = ("walk",)

    def __init__(self, walk: Iterator[Any]) -> None:
        self.walk = walk


def _trampoline(walk: Iterator[Any]) -> Iterator[list[int]]:
    """The paths ``walk`` and the walks it calls yield, in order, with a stack of walks instead of
    nested generators."""
    stack = [walk]
    while stack:
        try:
            item = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if type(item) is _Call:
            stack.append(item.walk)
        else:
            yield item


def useful(enabled: list[int], execution: Any) -> list[int]:
    """The enabled threads minus those about to join a thread that has not finished (running one
    would only block it: the same state as not running it)."""
    threads = execution.threads
    out = []
    for tid in enabled:
        ts = threads[tid]
        if ts.pending == "join":
            target = next((t for t in threads if t.name == ts.pending_what), None)
            if target is not None and target.status != "finished":
                continue
        out.append(tid)
    return out or enabled


class _Node:
    __slots__ = ("enabled", "current", "children")

    def __init__(self, enabled: list[int], current: int | None) -> None:
        self.enabled = enabled
        self.current = current
        self.children: dict[int, Any] = {}  # choice -> _Node or _END


class DFS(Strategy):
    name = "dfs"

    def __init__(self, seed: int = 0, max_preemptions: int | None = None, iterative: bool = True) -> None:
        super().__init__(seed)
        if max_preemptions is not None and max_preemptions < 0:
            raise ValueError("max_preemptions must be at least 0")
        self.max_preemptions = max_preemptions
        self.iterative = iterative
        self.bound: int | None = 0 if iterative else max_preemptions
        self.root: Any = None  # _Node, _END (no decision at all) or None (nothing run yet)
        self.prefix: list[int] = []
        self.pruned = False  # a choice was skipped because of the bound in this iteration
        self.done = False
        self.runs = 0
        self.estimates: list[float] = []  # Knuth estimates of the tree size, one per execution
        self._walker: Iterator[list[int]] = self._walk()
        self._path: list[tuple[list[int], int | None, int]] = []
        #: claim(iteration, unit): whether this instance walks that unit's part of the iteration
        #: (asked in walk order, only where the bound allows the unit's first choice; None: all of them)
        self.claim: Callable[[int, int], bool] | None = None
        self.units: dict[tuple[int, int], int] = {}  # (spine depth, choice) -> unit number, in walk order
        self.walked: dict[int, int] = {}  # unit -> the last iteration this instance walked it in
        #: the unit whose earlier iterations the execution begun last walks again, unreported (None: not so)
        self.catching_up: int | None = None
        self.iteration = 0
        #: (iteration, unit, offset) of the execution begun last; unit -1 is the first execution
        self.position: tuple[int, int, int] = (0, -1, 0)
        self.iterations: list[tuple[int, bool]] = []  # (iteration, pruned) of every iteration walked

    # -- the interface ---------------------------------------------------------------------------

    def begin(self, index: int) -> bool:
        super().begin(index)
        if self.done:
            return False
        prefix = next(self._walker, None)
        if prefix is None:
            self.done = True
            return False
        self.prefix = prefix
        self._path = []
        return True

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        enabled = useful(enabled, execution)
        if current not in enabled:
            current = None
        depth = len(self._path)
        tid = self.prefix[depth] if depth < len(self.prefix) else None
        if tid is None or tid not in enabled:  # beyond the prefix (or the program changed): default
            tid = current if current is not None else enabled[0]
        self._path.append((enabled, current, tid))
        return tid

    def end(self, execution: Any) -> None:
        self.runs += 1
        if not self._path:
            self.root = _END
            self.estimates.append(1.0)
            return
        if self.root is None or self.root is _END:
            self.root = _Node(*self._path[0][:2])
        node = self.root
        product = 1.0
        preemptions = 0
        for n, (_, current, tid) in enumerate(self._path):
            product *= len(self._allowed(node, preemptions)) or 1
            preemptions += 1 if current is not None and tid != current else 0
            last = n == len(self._path) - 1
            child = node.children.get(tid)
            if last:
                if child is None:
                    node.children[tid] = _END
                break
            if child is None or child is _END:
                nxt = self._path[n + 1]
                child = node.children[tid] = _Node(nxt[0], nxt[1])
            node = child
        self.estimates.append(product)

    # -- the walk --------------------------------------------------------------------------------

    def _allowed(self, node: _Node, before: int) -> list[int]:
        out = []
        for tid in node.enabled:
            preempts = node.current is not None and tid != node.current
            if preempts and self.bound is not None and before + 1 > self.bound:
                continue
            out.append(tid)
        return out

    def _walk(self) -> Iterator[list[int]]:
        yield []  # the first execution: all defaults
        self._number_units()
        while True:
            self.pruned = False
            if isinstance(self.root, _Node):
                yield from _trampoline(self._visit(self.root, [], 0, None))
            self.iterations.append((self.iteration, self.pruned))
            if not self.continues(self.iteration, self.pruned):
                return
            self.iteration += 1
            self.bound = (self.bound or 0) + 1

    def continues(self, iteration: int, pruned: bool) -> bool:
        """Whether an iteration comes after ``iteration``, which skipped a choice (``pruned``) or not."""
        if not self.iterative or not pruned:
            return False
        return self.max_preemptions is None or self.bound_of(iteration) < self.max_preemptions

    def bound_of(self, iteration: int) -> int | None:
        return iteration if self.iterative else self.max_preemptions

    def _number_units(self) -> None:
        spine = []
        node = self.root
        while isinstance(node, _Node):
            spine.append(node)
            node = node.children.get(self._default(node))
        for depth in range(len(spine) - 1, -1, -1):
            node = spine[depth]
            for tid in node.enabled:
                if tid != self._default(node):
                    self.units[(depth, tid)] = len(self.units)

    @staticmethod
    def _default(node: _Node) -> int:
        return node.current if node.current is not None else node.enabled[0]

    # _visit, _below and _catch_up walk the tree recursively; each yields a path or a _Call of the walk
    # below, which _trampoline runs: a Python recursion as deep as the tree hit the recursion limit at
    # about 1,000 decisions (last_one_out of the bug corpus: 5,000)

    def _visit(self, node: _Node, prefix: list[int], before: int, unit: int | None) -> Iterator[Any]:
        """Walk below ``node`` (reached by ``prefix`` with ``before`` preemptions) inside ``unit``, or on
        the spine (None)."""
        default = self._default(node)
        for tid in [default] + [t for t in node.enabled if t != default]:
            cost = before + (1 if node.current is not None and tid != node.current else 0)
            if self.bound is not None and cost > self.bound:
                self.pruned = True
                continue
            inside = unit
            if inside is None and tid != default:  # leaving the spine: a unit of its own
                inside = self.units.get((len(prefix), tid), -1)
                if self.claim is not None:
                    if not self.claim(self.iteration, inside):
                        continue  # another worker's
                    yield _Call(self._catch_up(node, prefix, tid, cost, inside))
            yield _Call(self._below(node, prefix, tid, cost, inside))

    def _below(self, node: _Node, prefix: list[int], tid: int, cost: int, unit: int | None) -> Iterator[Any]:
        """Walk the choice ``tid`` at ``node`` (costing ``cost`` preemptions) and below it."""
        child = node.children.get(tid)
        if child is None:
            if self.catching_up is None:
                self._advance(-1 if unit is None else unit)
            yield prefix + [tid]
            child = node.children.get(tid)
            if child is None:
                return  # the program did not take that choice (not deterministic)
        if isinstance(child, _Node):
            yield _Call(self._visit(child, prefix + [tid], cost, unit))

    def _catch_up(self, node: _Node, prefix: list[int], tid: int, cost: int, unit: int) -> Iterator[Any]:
        """Before walking ``unit`` in this iteration: walk it in the earlier iterations this instance
        did not (another worker did), to build its tree; what they prune is theirs, not this iteration's."""
        last = self.walked.get(unit, -1)
        self.walked[unit] = self.iteration
        if last >= self.iteration - 1:
            return
        bound, pruned = self.bound, self.pruned
        self.catching_up = unit
        for earlier in range(last + 1, self.iteration):
            self.bound = self.bound_of(earlier)
            if self.bound is None or cost <= self.bound:
                yield _Call(self._below(node, prefix, tid, cost, unit))
        self.bound, self.pruned, self.catching_up = bound, pruned, None

    def _advance(self, unit: int) -> None:
        iteration, last, offset = self.position
        same = iteration == self.iteration and last == unit
        self.position = (self.iteration, unit, offset + 1 if same else 0)

    # -- reporting -------------------------------------------------------------------------------

    def coverage(self) -> dict[str, Any]:
        return self.coverage_of(self.estimates, self.done, self.pruned, self.bound)

    @staticmethod
    def coverage_of(estimates: list[float], done: bool, pruned: bool, bound: int | None) -> dict[str, Any]:
        """The coverage of a walk that ran executions with these ``estimates`` (in order), ``done`` (it
        walked the whole space within its bounds), whose last iteration ``pruned`` at ``bound``."""
        runs = len(estimates)
        estimate = sum(estimates) / runs if runs else 0.0
        complete = done and not pruned  # no schedule was left out because of the bound
        return {
            "strategy": "DFS",
            "classes": runs,
            "unit": "schedules",
            "bound": None if complete else bound,
            "complete": complete,
            "estimate": max(estimate, float(runs)),
        }

    def describe(self) -> str:
        bound = "unbounded" if self.max_preemptions is None else f"max_preemptions={self.max_preemptions}"
        return f"dfs({bound})"
