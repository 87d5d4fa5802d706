"""The seed of ``interlace run`` in tests.

``interlace run`` draws a random seed, so a test that runs it without ``--seed`` would try a different
interleaving in every CI run: a bug that shows in one seed out of twenty makes CI fail one time in twenty.
The tests pin the seed (CI is deterministic); ``bench/soak_run.py`` runs the same tests with
``INTERLACE_TEST_RUN_SEED=random`` many times to look for such seeds.
"""

from __future__ import annotations

import os

DEFAULT = "1"


def pinned(args: tuple[str, ...] | list[str]) -> list[str]:
    """``args`` of an ``interlace`` command line, with ``--seed`` added to a ``run`` that has none."""
    args = list(args)
    seed = os.environ.get("INTERLACE_TEST_RUN_SEED", DEFAULT)
    if "run" in args[:1] and "--seed" not in args and "--detect-only" not in args and seed != "random":
        args[1:1] = ["--seed", seed]
    return args
