"""``interlace campaign TARGET...``: explore many scripts and pytest selections, resumably."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..drivers.script import UsageError


def add_parser(sub: Any, strategies: list[str]) -> None:
    cp = sub.add_parser("campaign", help="explore many scripts and pytest selections, with a summary; resumable",
                        description="Explore every TARGET (a script, or pytest:SELECTION for tests explored by "
                                    "the pytest plugin) in turn, on --workers or a --dask cluster; print a "
                                    "summary table with every failure's replay command. The state file records "
                                    "each finished target: the same command run again resumes an interrupted "
                                    "campaign.")
    cp.add_argument("targets", nargs="+", metavar="TARGET", help="prog.py, or pytest:'tests/test_x.py -k shop'")
    cp.add_argument("-n", "--executions", type=int, default=1000, help="executions per target (default 1000)")
    cp.add_argument("--strategy", choices=strategies, default="pct", help="default: pct")
    cp.add_argument("--seed", type=int, default=None,
                    help="base seed; each target's seed is derived from it and the target (default: from the "
                         "target alone, the same in every run)")
    cp.add_argument("--races", choices=["error", "warn", "off"], default="error", help="as for explore")
    cp.add_argument("--workers", default=None, metavar="N", help="worker processes per target ('auto': one per core)")
    cp.add_argument("--dask", default=None, metavar="tcp://HOST:PORT",
                    help="explore the scripts on this Dask cluster (pytest selections use --workers)")
    cp.add_argument("--state", default=".interlace/campaign/state.json",
                    help="the state file (default .interlace/campaign/state.json)")
    cp.add_argument("--out", default=".interlace/campaign", help="where failing schedules are saved")


def cli_campaign(options: argparse.Namespace) -> int:
    from ..drivers.campaign import Campaign, table
    from . import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, _workers_option

    if options.executions < 1:
        raise UsageError("--executions must be at least 1.")
    workers = _workers_option(options)
    campaign = Campaign(options.targets, {
        "executions": options.executions, "strategy": options.strategy, "seed": options.seed,
        "races": options.races, "workers": workers, "dask": options.dask,
    }, options.state, options.out)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        rows = campaign.run(say)
    except KeyboardInterrupt:
        print(f"\ninterlace: campaign interrupted; {len(campaign.rows)} of {len(options.targets)} target(s) done "
              f"(recorded in {options.state}). Run the same command again to resume.", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(table(rows))
    return EXIT_FAILURE if any(r.result != "ok" for r in rows) else EXIT_OK
