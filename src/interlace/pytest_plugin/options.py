"""What the command line and ``@pytest.mark.interlace`` ask for one test: its plan and its seed.

Exists so that the settings of a test are decided in one place, the marker winning over the options,
and so that a test gets the same seed in every run, rerun and xdist worker: the seed is derived from
the test id, never drawn.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

DEFAULT_EXECUTIONS = 100
#: a test's exploration stops before a next execution once its executions took this many scheduling
#: steps in all (``--interlace-step-budget``): counted, so the same test stops at the same execution on
#: every machine. A test of a normal suite takes far fewer (100 executions of 50,000 steps); one that
#: pushes 10**6 items through a lock from 10 threads takes 5 million in one execution, 10 to 30 s with
#: the race detector (docs/pytest.md)
DEFAULT_STEP_BUDGET = 5_000_000
MARKER_KEYS = ("executions", "strategy", "seed", "model", "races", "skip", "time_limit", "max_steps",
               "hang_guard", "step_budget")

REPLAY = pytest.StashKey[Any]()  # the Schedule loaded from --interlace-replay


def plan_for(item: pytest.Item) -> dict | None:
    """How to run ``item``: None (normally) or the options of its exploration/replay."""
    config = item.config
    if not isinstance(item, pytest.Function):
        return None
    from .remote import HOSTED

    if config.stash.get(HOSTED, False):  # a worker's session: the worker runs the executions
        return None
    replay = config.stash.get(REPLAY, None)
    if replay is None and item.get_closest_marker("thread_unsafe") is not None:
        return None
    marker = item.get_closest_marker("interlace")
    kwargs: dict = {}
    if marker is not None:
        kwargs = dict(marker.kwargs)
        unknown = set(kwargs) - set(MARKER_KEYS)
        if unknown or marker.args:
            got = ", ".join(sorted(unknown)) or repr(marker.args)
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.interlace takes only the keyword arguments "
                                    f"{', '.join(MARKER_KEYS)} (got {got})")
        if kwargs.get("skip") and replay is None:
            return None
    if replay is None and marker is None and not config.getoption("interlace"):
        return None
    if not hasattr(pytest.Function, "_getinstance"):
        raise pytest.UsageError(f"interlace's pytest plugin needs pytest 8.3 or later (this is pytest "
                                f"{pytest.__version__})")

    def pick(key: str, option: str, default: Any) -> Any:
        if kwargs.get(key) is not None:
            return kwargs[key]
        value = config.getoption(option)
        return default if value is None else value

    _check_choice(item, "strategy", pick("strategy", "interlace_strategy", "pct"), strategy_names())
    _check_choice(item, "model", pick("model", "interlace_model", "free-threaded"), ("free-threaded", "gil"))
    _check_choice(item, "races", pick("races", "interlace_races", "error"), ("error", "warn", "off"))
    base_seed = config.getoption("interlace_seed")
    if kwargs.get("seed") is not None:
        seed = int(kwargs["seed"])
    else:
        seed = default_seed(item.nodeid, base_seed)
    return {
        "replay": replay,
        "executions": int(pick("executions", "interlace_executions", DEFAULT_EXECUTIONS)),
        "strategy": pick("strategy", "interlace_strategy", "pct"),
        "model": pick("model", "interlace_model", "free-threaded"),
        "races": pick("races", "interlace_races", "error"),
        "seed": seed,
        "time_limit": kwargs.get("time_limit"),
        "max_steps": kwargs.get("max_steps"),
        "hang_guard": kwargs["hang_guard"] if "hang_guard" in kwargs else hang_guard_option(config),
        "step_budget": kwargs["step_budget"] if "step_budget" in kwargs else step_budget_option(config),
        "workers": config.getoption("interlace_workers"),
    }


def hang_guard_option(config: pytest.Config) -> float | None:
    """``--interlace-hang-guard``: seconds, or ``none`` (default: ``interlace.explore``'s)."""
    from ..drivers.session import parse_hang_guard
    from ..runtime.execution import HANG_GUARD

    text = config.getoption("interlace_hang_guard")
    if text is None:
        return HANG_GUARD
    try:
        return parse_hang_guard(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--interlace-hang-guard: {exc}") from None


def step_budget_option(config: pytest.Config) -> int | None:
    """``--interlace-step-budget``: scheduling steps, or ``none`` (default DEFAULT_STEP_BUDGET)."""
    text = config.getoption("interlace_step_budget")
    if text is None:
        return DEFAULT_STEP_BUDGET
    if text.strip().lower() == "none":
        return None
    try:
        budget = int(text.replace("_", ""))
    except ValueError:
        budget = 0
    if budget < 1:
        raise pytest.UsageError(f"--interlace-step-budget: a number of scheduling steps (at least 1) or 'none', "
                                f"not {text!r}")
    return budget


def strategy_names() -> tuple[str, ...]:
    from ..strategies import STRATEGIES

    return tuple(sorted(STRATEGIES))


def _check_choice(item: Any, key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise pytest.UsageError(f"{item.nodeid}: unknown interlace {key} {value!r}; choose one of: "
                                f"{', '.join(allowed)}")


def default_seed(nodeid: str, base: int | None = None) -> int:
    """The default seed of a test: a stable hash of its id (and of ``--interlace-seed`` when given)."""
    text = nodeid if base is None else f"{base}/{nodeid}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
