"""Run tests/speedups_programs.py under several strategies and print, as JSON, everything that must not
depend on whether the native accelerator is used: each execution's decisions, step counts and failure,
and the races found. Run as ``python speedups_probe.py`` with and without ``INTERLACE_PURE=1``."""

from __future__ import annotations

import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "examples", "bank")]

import speedups_programs  # noqa: E402

import interlace  # noqa: E402
from interlace.runtime import execution  # noqa: E402

CASES = [("timeslice", "free-threaded", 3), ("random", "free-threaded", 4), ("pct", "free-threaded", 4),
         ("pos", "free-threaded", 3), ("dpor", "free-threaded", 3), ("random", "gil", 3)]


def _hits() -> int:
    """Hook calls that took the fast path in C so far (0 on the pure-Python path)."""
    native = execution._native
    return native.hits() if native is not None else 0


def detect() -> None:
    """Detector-only mode on programs whose real threads run one after another."""
    out: dict = {}
    for name, fn in speedups_programs.DETECT.items():
        hits = _hits()
        result = interlace.detect(fn)
        out[name] = {"ok": result.ok, "races": sorted((r.summary(), r.gil_reason) for r in result.races),
                     "native hits": _hits() - hits}
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


def main() -> None:
    if sys.argv[1:] == ["--detect"]:
        return detect()
    names = sys.argv[1:] or list(speedups_programs.PROGRAMS)
    out: dict = {"native": execution._FastPath.__module__ == "interlace._speedups",
                 "native hits": dict.fromkeys(names, 0)}
    for name in names:
        fn = speedups_programs.PROGRAMS[name]
        for strategy, model, n in CASES:
            runs: list = []

            def seen(i: int, ex: execution.Execution, runs: list = runs) -> None:
                runs.append([list(ex.choices.tids), list(ex.choices.counts), ex.step, ex.fast.gil_points,
                             ex.fast.progress_at, ex.failure.kind if ex.failure else None,
                             [list(event) for event in ex.trace],  # DPOR's: the events the C path notes too
                             # what each unit's points left (an event loop's unit's first point is made in C)
                             [[t.name, t.run_length, t.site, t.pending, str(t.pending_what), t.status]
                              for t in ex.threads]])

            hits = _hits()
            result = interlace.explore(fn, executions=n, strategy=strategy, seed=7, model=model,
                                       races="warn", on_execution=seen, shrink=False)
            out[f"{name}/{strategy}/{model}"] = {
                "runs": runs, "ok": result.ok, "executions": result.executions,
                "failure": result.failure.message if result.failure else None,
                "races": sorted(r.summary() for r in result.races),
            }
            out["native hits"][name] += _hits() - hits
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
