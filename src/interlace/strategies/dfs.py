"""Depth-first enumeration of schedules with iterative preemption bounding (CHESS, Musuvathi & Qadeer).

The strategy keeps the path of decisions of the last execution (one node per scheduling point where
several threads could run: the enabled threads, the thread that ran before, the choice made). The next
execution replays the path up to the deepest node with an untried alternative and takes it; after it,
every decision is the non-preemptive default (the running thread continues, else the lowest enabled
thread). A *preemption* is choosing another thread while the running one could continue.

Iterative bounding: all schedules with at most 0 preemptions, then at most 1, 2, ... up to
``max_preemptions`` (None: no limit). When an iteration never had to skip an alternative because of
the bound, the whole space has been run and :meth:`begin` returns False (``result.exhausted``).
Schedules with fewer preemptions than the current bound are run again in each iteration (as in
CHESS); :meth:`coverage` counts each distinct schedule once.
"""

from __future__ import annotations

from typing import Any

from .base import Strategy


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
    __slots__ = ("enabled", "current", "chosen", "tried", "preemptions")

    def __init__(self, enabled: list[int], current: int | None, chosen: int, preemptions: int) -> None:
        self.enabled = enabled
        self.current = current
        self.chosen = chosen
        self.tried = {chosen}
        self.preemptions = preemptions  # preemptions on the path before this node


class DFS(Strategy):
    name = "dfs"

    def __init__(self, seed: int = 0, max_preemptions: int | None = None, iterative: bool = True) -> None:
        super().__init__(seed)
        if max_preemptions is not None and max_preemptions < 0:
            raise ValueError("max_preemptions must be at least 0")
        self.max_preemptions = max_preemptions
        self.iterative = iterative
        self.bound: int | None = 0 if iterative else max_preemptions
        self.path: list[_Node] = []
        self.replay: list[int] = []  # choices to replay at the start of the next execution
        self.position = 0
        self.pruned = False  # an alternative was skipped because of the bound in this iteration
        self.started = False
        self.done = False
        self.seen: set[tuple[int, ...]] = set()  # distinct schedules run (by their choices)
        self.runs = 0
        self.estimates: list[float] = []  # Knuth estimates of the tree size, one per execution
        self._decisions: list[int] = []

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
        self._decisions = []
        return True

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        enabled = useful(enabled, execution)
        if current not in enabled:
            current = None
        depth = self.position
        self.position += 1
        if depth < len(self.replay):
            tid = self.replay[depth]
            if tid not in enabled:  # the program is not deterministic: continue as the default would
                tid = current if current is not None else enabled[0]
                del self.path[depth:]
                self.replay = self.replay[:depth]
            else:
                node = self.path[depth]
                if node.enabled != enabled:
                    node.enabled = list(enabled)
                self._decisions.append(tid)
                return tid
        tid = current if current is not None else enabled[0]
        before = self.path[-1].preemptions + self._is_preemption(self.path[-1]) if self.path else 0
        self.path.append(_Node(list(enabled), current, tid, before))
        self._decisions.append(tid)
        return tid

    def end(self, execution: Any) -> None:
        self.runs += 1
        key = tuple(self._decisions)
        self.seen.add(key)
        product = 1.0
        for node in self.path[: len(self._decisions)]:
            product *= len(self._alternatives(node, ignore_tried=True)) or 1
        self.estimates.append(product)
        del self.path[len(self._decisions):]

    # -- the tree --------------------------------------------------------------------------------

    @staticmethod
    def _is_preemption(node: _Node) -> int:
        return 1 if node.current is not None and node.chosen != node.current else 0

    def _alternatives(self, node: _Node, ignore_tried: bool = False) -> list[int]:
        """The choices at ``node`` allowed by the bound (and not tried yet unless ``ignore_tried``)."""
        out = []
        for tid in node.enabled:
            if not ignore_tried and tid in node.tried:
                continue
            preempts = node.current is not None and tid != node.current
            if preempts and self.bound is not None and node.preemptions + 1 > self.bound:
                if not ignore_tried:
                    self.pruned = True
                continue
            out.append(tid)
        return out

    def _advance(self) -> bool:
        """Move to the next schedule: the deepest node with an untried alternative; False when done."""
        while True:
            while self.path:
                node = self.path[-1]
                alternatives = self._alternatives(node)
                if alternatives:
                    node.chosen = alternatives[0]
                    node.tried.add(node.chosen)
                    self.replay = [n.chosen for n in self.path]
                    return True
                self.path.pop()
            # this iteration is over
            if not self.iterative or not self.pruned:
                return False
            if self.max_preemptions is not None and self.bound is not None and self.bound >= self.max_preemptions:
                return False
            self.bound = (self.bound or 0) + 1
            self.pruned = False
            self.replay = []
            return True

    # -- reporting -------------------------------------------------------------------------------

    def coverage(self) -> dict[str, Any]:
        estimate = sum(self.estimates) / len(self.estimates) if self.estimates else 0.0
        complete = self.done and not self.pruned  # no schedule was left out because of the bound
        return {
            "strategy": "DFS",
            "classes": len(self.seen),
            "unit": "schedules",
            "bound": None if complete else self.bound,
            "complete": complete,
            "estimate": max(estimate, float(len(self.seen))),
        }

    def describe(self) -> str:
        bound = "unbounded" if self.max_preemptions is None else f"max_preemptions={self.max_preemptions}"
        return f"dfs({bound})"
