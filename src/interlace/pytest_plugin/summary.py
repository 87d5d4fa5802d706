"""The ``interlace`` section of pytest's terminal summary: one line per explored test, then the totals.

Exists because the statistics must be collected from the test reports, not from the tests: under
pytest-xdist the tests run on workers and only their reports reach the controller, which prints the
summary. ``Summary`` is registered as a plugin object by the package's ``pytest_configure``.
"""

from __future__ import annotations

from typing import Any

import pytest


class Summary:
    """Collects the per-test statistics from the reports (so xdist workers' results reach the controller)."""

    def __init__(self) -> None:
        self.stats: list[dict] = []
        self._reports: list[tuple[dict, pytest.TestReport]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" or "subtest" in type(report).__name__.lower():
            return  # a subtest's report (pytest 9, pytest-subtests): only the test's own counts
        for name, value in report.user_properties:
            if name == "interlace" and isinstance(value, dict):
                stats = dict(value)
                self.stats.append(stats)
                self._reports.append((stats, report))

    def _settle(self) -> None:
        """A test pytest reports as failed is never ``[ok]``: its report may be failed after the call
        (pytest's subtests turn a passed test with failed subtests into a failure when reporting)."""
        for stats, report in self._reports:
            if report.failed and not stats["failed"]:
                stats["failed"] = True
        self._reports = []

    def write(self, tr: Any) -> None:
        """The section, written by the package's ``pytest_terminal_summary``; nothing when nothing was explored."""
        self._settle()
        stats = self.stats
        if not stats:
            return
        tr.write_sep("=", "interlace")
        for s in stats:
            verdict = "FAILED" if s["failed"] else ("races" if s.get("races") else "ok")
            if s["mode"] == "replay":
                tr.write_line(f"{s['nodeid']}: replayed 1 schedule in {s['elapsed']:.2f}s [{verdict}]")
                continue
            note = ""
            if s.get("exhausted") and s.get("coverage"):
                note = "; " + s["coverage"].removesuffix(", no failure")  # a systematic strategy covered it all
            elif s.get("exhausted") and s["executions"] == 1:
                note = " (no two threads could run at once: nothing to explore)"
            tr.write_line(
                f"{s['nodeid']}: {_n(s['executions'], 'execution')}, "
                + (f"{_n(s['interleavings'], 'distinct interleaving')}, " if s["interleavings"] is not None else "")
                + f"{s['elapsed']:.2f}s "
                f"(seed {s['seed']}){note} [{verdict}]"
            )
            if s.get("step_budget"):
                tr.write_line(f"    exploration cut short by the step budget: {_n(s['executions'], 'execution')} "
                              f"took {s['steps']:,} scheduling steps (--interlace-step-budget {s['step_budget']})")
            missing = s.get("uninstrumented") or []
            if missing and not s["failed"]:
                shown = ", ".join(missing[:3]) + (f", ... ({len(missing) - 3} more)" if len(missing) > 3 else "")
                tr.write_line(f"    not instrumented (ran without scheduling points): {shown}")
        total = sum(s["elapsed"] for s in stats)
        executions = sum(s["executions"] for s in stats)
        tr.write_line(f"interlace: {_n(len(stats), 'test')}, {_n(executions, 'execution')} in {total:.2f}s")


SUMMARY = pytest.StashKey[Summary]()


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
