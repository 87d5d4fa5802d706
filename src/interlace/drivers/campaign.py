"""A campaign: many targets explored one after another, each across the workers or the cluster.

A nightly run over the scripts and tests of a project wants one command, one summary, every failure
kept with the command that replays it, and no work lost when it is interrupted. Targets are scripts
(``prog.py``) or pytest selections (``pytest:tests/test_shop.py``, explored by the pytest plugin in a
subprocess). After each target the state file records its row; a campaign started again with the
same options skips the targets it records (an interrupted target runs again, from its start: the same
seed gives the same exploration).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .script import UsageError

STATE_FORMAT = "interlace-campaign"
PYTEST = "pytest:"


@dataclass
class Row:
    """One target's line of the summary (and of the state file)."""

    target: str
    result: str  # "ok", "FAILED", "error"
    executions: int
    seed: int | None
    elapsed: float
    replay: list[str]  # the commands that replay its failures
    message: str = ""


def target_seed(target: str, seed: int | None) -> int:
    """The seed of ``target``: derived from its text (and ``seed``), so a resumed campaign gets the same."""
    text = target if seed is None else f"{seed}/{target}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


class Campaign:
    """The targets, the exploration options every target gets, and the state file."""

    def __init__(self, targets: Sequence[str], options: dict[str, Any], state: str, out: str) -> None:
        for target in targets:
            if not target.startswith(PYTEST) and not os.path.isfile(target):
                raise UsageError(f"campaign target {target!r} is neither a script nor a pytest selection "
                                 f"({PYTEST}SELECTION); check the path (it is relative to {os.getcwd()!r}).")
        self.targets = list(targets)
        self.options = options
        self.state = state
        self.out = out
        self.rows: dict[str, Row] = {}
        if os.path.exists(state):
            self._load()

    def _load(self) -> None:
        try:
            with open(self.state, encoding="utf-8") as f:
                doc = json.load(f)
            if doc.get("format") != STATE_FORMAT:
                raise ValueError("not a campaign state file")
        except (OSError, ValueError) as exc:
            raise UsageError(f"{self.state} cannot be read as a campaign's state ({exc}); remove it, or give "
                             "another --state.") from None
        if doc["options"] != self.options:
            raise UsageError(f"{self.state} is the state of a campaign with other options ({doc['options']}); "
                             "run that campaign's command again to resume it, or remove the file (or give "
                             "another --state) to start this one.")
        self.rows = {row["target"]: Row(**row) for row in doc["rows"]}

    def _save(self) -> None:
        directory = os.path.dirname(self.state)
        if directory:
            os.makedirs(directory, exist_ok=True)
        temporary = self.state + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump({"format": STATE_FORMAT, "version": 1, "options": self.options,
                       "rows": [asdict(r) for r in self.rows.values()]}, f, indent=1)
        os.replace(temporary, self.state)  # an interruption never leaves half a state

    def run(self, say: Callable[[str], None]) -> list[Row]:
        """Explore every target not done yet; the rows of all targets, in their order."""
        for target in self.targets:
            if target in self.rows:
                say(f"interlace: {target}: done in an earlier run ({self.rows[target].result}), skipped")
                continue
            say(f"interlace: {target}: exploring...")
            row = self._pytest(target) if target.startswith(PYTEST) else self._script(target)
            self.rows[target] = row
            self._save()
        return [self.rows[t] for t in self.targets]

    def _script(self, target: str) -> Row:
        from .explore import explore
        from .result import ExplorationInterrupted
        from .script import script_runner

        o = self.options
        seed = target_seed(target, o["seed"])
        runner = script_runner(target, [], capture=True)
        started = time.perf_counter()
        try:
            result = explore(runner, executions=o["executions"], strategy=o["strategy"], seed=seed,
                             workers=o["workers"], dask=o["dask"], target=runner.target(), races=o["races"])
        except ExplorationInterrupted:
            raise KeyboardInterrupt from None
        elapsed = time.perf_counter() - started
        if result.ok:
            return Row(target, "ok", result.executions, seed, elapsed, [])
        stem = os.path.splitext(os.path.basename(target))[0]
        os.makedirs(self.out, exist_ok=True)
        path = os.path.join(self.out, f"{stem}-seed{seed}-exec{result.schedule.execution}.json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(result.schedule.to_json())
        return Row(target, "FAILED", result.executions, seed, elapsed, [f"interlace replay {shlex.quote(path)}"],
                   result.failure.message)

    def _pytest(self, target: str) -> Row:
        o = self.options
        selection = shlex.split(target[len(PYTEST):])
        seed = target_seed(target, o["seed"])
        command = [sys.executable, "-m", "pytest", "--interlace", "-p", "no:cacheprovider",
                   "--interlace-executions", str(o["executions"]), "--interlace-strategy", o["strategy"],
                   "--interlace-seed", str(seed), "--interlace-races", o["races"], *selection]
        if o["workers"] is not None:
            command += ["--interlace-workers", str(o["workers"])]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        lines = done.stdout.splitlines()
        replay = [line[len("Replay it: "):] for line in lines if line.startswith("Replay it: ")]
        counted = [int(m.group(1).replace(",", "")) for line in lines
                   if (m := re.match(r"interlace: \d+ tests?, ([\d,]+) executions?", line))]
        executions = counted[-1] if counted else 0
        if done.returncode == 0:
            return Row(target, "ok", executions, seed, elapsed, [])
        if done.returncode == 1:
            failed = [line for line in lines if line.startswith("FAILED ")]
            return Row(target, "FAILED", executions, seed, elapsed, replay, "; ".join(failed))
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return Row(target, "error", executions, seed, elapsed, [],
                   f"pytest exited with {done.returncode}: {tail[0]}")


def table(rows: Sequence[Row]) -> str:
    """The summary: one line per target, then each failure's replay commands."""
    width = max([len("target"), *(len(r.target) for r in rows)])
    lines = [f"{'target':<{width}}  {'result':<6}  {'executions':>10}  {'seed':>10}  {'time':>8}",
             "-" * (width + 42)]
    for r in rows:
        lines.append(f"{r.target:<{width}}  {r.result:<6}  {r.executions:>10,}  {r.seed!s:>10}  {r.elapsed:>7.1f}s")
    for r in rows:
        if r.result != "ok":
            lines.append("")
            lines.append(f"{r.target}: {r.message}")
            lines += [f"  replay: {command}" for command in r.replay]
    return "\n".join(lines)
