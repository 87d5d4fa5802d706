"""What an exploration, a replay or a shrink returns: :class:`Result`, and the exceptions that carry one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..runtime.state import Failure
from ..schedule import Schedule

RESULT_VERSION = 1  # of the ``--json`` document (Result.to_dict)


class InterlaceFailure(AssertionError):
    """Raised by :meth:`Result.raise_on_failure`; its message is the full report."""


class ExplorationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`explore`: the execution running then was ended cleanly (it is not a
    failure of the program) and ``result`` says what was found before (``result.interrupted``)."""

    def __init__(self, result: Result) -> None:
        super().__init__("interrupted")
        self.result = result


@dataclass
class Result:
    """What an exploration found."""

    ok: bool
    executions: int
    seed: int | None
    strategy: str
    model: str
    elapsed: float
    failure: Failure | None = None
    schedule: Schedule | None = None
    trace: list = field(default_factory=list)
    uninstrumented: list[str] = field(default_factory=list)
    divergence: str | None = None
    exhausted: bool = False
    threads: list[str] = field(default_factory=list)
    races: list = field(default_factory=list)
    lock_inversions: list = field(default_factory=list)
    suppressed_races: int = 0
    original_schedule: Schedule | None = None  # the failing schedule before shrinking
    decisions: list = field(default_factory=list)  # shrink.Decision per decision of the shown trace
    handoffs: list = field(default_factory=list)  # (from, to, what) hand-offs between steps of the trace
    #: (thread, virtual seconds, site) of each timed wait the execution ended while other threads could
    #: still run (a sleep, a Timer's interval, a short timeout; see Execution._advance_time)
    early_wakes: list = field(default_factory=list)
    shrink: Any = None  # shrink.ShrinkResult: what shrinking did
    #: systematic strategies: {"strategy", "classes", "unit", "bound", "complete", "estimate"}, and DPOR's
    #: "horizon" (the events of each execution it explored, when an execution was longer) (else None)
    coverage: dict | None = None
    interrupted: bool = False  # Ctrl-C ended the exploration (see ExplorationInterrupted)
    #: the scheduling steps of the executions run (counted by explore() in this process; 0 otherwise)
    steps: int = 0
    #: explore()'s ``step_budget`` ended the exploration before ``executions`` were run
    step_budget_spent: bool = False

    def coverage_line(self) -> str | None:
        """E.g. 'all 14 interleaving classes explored (DPOR), no failure', or how much was covered."""
        c = self.coverage
        if not c:
            return None
        bound = "" if c.get("bound") is None else f" with at most {c['bound']} preemption(s)"
        if c.get("horizon") is not None:
            bound += f" of the first {c['horizon']:,} events"
        if self.exhausted:
            tail = ", no failure" if self.ok else ""
            if c["classes"] == 1:  # "the only interleaving class", "the only schedule"
                one = c["unit"][:-2] if c["unit"].endswith("sses") else c["unit"][:-1]
                return f"the only {one}{bound} explored ({c['strategy']}){tail}"
            return f"all {c['classes']} {c['unit']}{bound} explored ({c['strategy']}){tail}"
        if c.get("complete") and self.uninstrumented:
            return (f"{c['classes']} {c['unit']}{bound} explored ({c['strategy']}), not all of them: "
                    f"some code ran without scheduling points (not instrumented)")
        estimate = max(c.get("estimate") or 0.0, 1.0)
        share = min(c["classes"] / estimate, 1.0)
        return (f"{c['classes']} {c['unit']}{bound} explored ({c['strategy']}) of about {estimate:.3g} "
                f"estimated ({share:.1%}); the budget ran out first")

    def report(self, replay_command: str | None = None) -> str:
        from ..report.text import format_result

        text = format_result(self)
        # what fails first, then the notes (benign races: reported, not failures)
        races = [r for r in self.races if not r.suppressed]
        found = [r for r in races if not r.note] + list(self.lock_inversions) + [r for r in races if r.note]
        if found:
            text += "\n\n" + "\n\n".join(item.format() for item in found)
        if self.suppressed_races:
            text += f"\n\n({self.suppressed_races} race report(s) suppressed)"
        if replay_command and not self.ok:
            text += f"\n\nReplay it: {replay_command}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data (for ``--json``; the schema is in docs/reports.md)."""
        from ..report.text import clean_traceback

        f = self.failure
        return {
            "format": "interlace-result", "version": RESULT_VERSION,
            "ok": self.ok, "executions": self.executions, "seed": self.seed, "strategy": self.strategy,
            "model": self.model, "elapsed": round(self.elapsed, 6),
            "failure": None if f is None else {"kind": f.kind, "message": f.message,
                                                "traceback": clean_traceback(f.traceback) if f.traceback else None,
                                                "details": f.details},
            "races": [r.to_dict() for r in self.races if not r.suppressed],
            "suppressed_races": self.suppressed_races,
            "lock_inversions": [i.to_dict() for i in self.lock_inversions],
            "uninstrumented": self.uninstrumented,
            "schedule": None if self.schedule is None else json.loads(self.schedule.to_json()),
            "exhausted": self.exhausted, "coverage": self.coverage, "interrupted": self.interrupted,
            "early_wakes": [{"thread": name, "seconds": seconds, "site": list(site) if site else None}
                            for name, seconds, site in self.early_wakes],
        }

    def fail_on_races(self) -> None:
        """``races="error"``: a result with no other failure (and no divergence) fails with its first race
        that can break the program, else its first lock-order inversion. Notes (benign races) never fail."""
        if self.failure is not None or self.divergence is not None:
            return
        first = next((r for r in self.races if r.fails), None)
        if first is None and not self.lock_inversions:
            return
        summary = first.summary() if first is not None else self.lock_inversions[0].summary()
        self.failure = Failure("race", summary)
        self.ok = False

    def raise_on_failure(self) -> None:
        """Raise :class:`InterlaceFailure` (an AssertionError) with the report if a failure was found."""
        if not self.ok:
            raise InterlaceFailure(self.report())

    def __bool__(self) -> bool:
        return self.ok
