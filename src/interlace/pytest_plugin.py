"""pytest plugin: explore the interleavings of existing tests, fail on races, replay a failure by id.

Registered through the ``pytest11`` entry point as ``interlace`` and inactive unless asked for:
``pytest --interlace`` explores every selected test, ``@pytest.mark.interlace(...)`` one test.
``-p no:interlace`` removes the plugin altogether.

How a test is explored: pytest sets up the item as usual, except that its *function-scoped*
fixtures are left out (broader fixtures are set up once, outside any execution). Each execution
then runs, on a controlled main thread, "set up fresh function-scoped fixtures (and a fresh
instance of the test class) -> call the test -> tear those fixtures down", so everything the
fixtures build (locks, queues, executors) is controlled and nothing leaks from one execution into
the next. A failure fails the test with interlace's report, the schedule is saved under
``.interlace/pytest/`` and the report ends with the command that replays it:
``pytest '<nodeid>' --interlace-replay=<file>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import warnings
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["InterlaceRaceWarning"]

DEFAULT_EXECUTIONS = 100
MARKER_KEYS = ("executions", "strategy", "seed", "model", "races", "skip", "time_limit", "max_steps")
SCHEDULE_DIR = (".interlace", "pytest")


class InterlaceRaceWarning(UserWarning):
    """A data race or lock-order inversion found while the test's assertions passed.

    Issued with ``--interlace-races=warn`` (or ``@pytest.mark.interlace(races="warn")``); pytest lists
    it in its warnings summary.
    """


_SUMMARY = pytest.StashKey["_Summary"]()
_REPLAY = pytest.StashKey[Any]()


# -- options and markers -------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interlace", "interlace: explore thread interleavings, find races, replay them")
    group.addoption("--interlace", action="store_true", default=False,
                    help="run every selected test under interlace's controlled scheduler")
    group.addoption("--interlace-executions", type=int, default=None, metavar="N",
                    help=f"executions explored per test (default {DEFAULT_EXECUTIONS})")
    group.addoption("--interlace-strategy", default=None, metavar="NAME",
                    help="exploration strategy: pct (default), random, pos, dfs, dpor or portfolio")
    group.addoption("--interlace-seed", type=int, default=None, metavar="N",
                    help="base seed; each test's seed is derived from it and the test id "
                         "(default: derived from the test id alone, so reruns and xdist workers agree)")
    group.addoption("--interlace-model", default=None, choices=("free-threaded", "gil"),
                    help="memory model: free-threaded (default, a switch at every shared access) or gil")
    group.addoption("--interlace-races", default=None, choices=("error", "warn", "off"),
                    help="data races found while the assertions pass: error (default) fails the test, "
                         "warn reports an InterlaceRaceWarning, off skips detection")
    group.addoption("--interlace-replay", default=None, metavar="FILE",
                    help="replay exactly the schedule in FILE (written by a failing explored test)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interlace(executions=100, strategy='pct', seed=None, model='free-threaded', races='error', "
        "skip=False, time_limit=None, max_steps=None): explore this test's thread interleavings with "
        "interlace (even without --interlace); skip=True runs it once, normally",
    )
    config.addinivalue_line("markers", "thread_unsafe: interlace (and pytest-run-parallel) run this test "
                                       "once, normally")
    summary = _Summary()
    config.stash[_SUMMARY] = summary
    config.pluginmanager.register(summary, "interlace-summary")
    strategy = config.getoption("interlace_strategy")
    if strategy is not None and strategy not in _strategy_names():
        raise pytest.UsageError(f"--interlace-strategy: unknown strategy {strategy!r}; choose one of: "
                                f"{', '.join(_strategy_names())}")
    path = config.getoption("interlace_replay")
    if path:
        from .schedule import Schedule, ScheduleError

        try:
            config.stash[_REPLAY] = Schedule.load(path)
        except (OSError, ScheduleError, ValueError) as exc:
            raise pytest.UsageError(f"--interlace-replay: cannot load {path}: {exc}") from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    schedule = config.stash.get(_REPLAY, None)
    if schedule is None:
        return
    wanted = (schedule.target or {}).get("pytest")
    if wanted is None:
        if len(items) != 1:
            raise pytest.UsageError(
                f"--interlace-replay: {config.getoption('interlace_replay')} does not name a test; "
                "select exactly one test to replay it on")
        return
    keep = [item for item in items if item.nodeid == wanted]
    if not keep and items:
        raise pytest.UsageError(f"--interlace-replay: the schedule is for {wanted!r}, which is not among the "
                                "selected tests")
    deselected = [item for item in items if item.nodeid != wanted]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def _plan(item: pytest.Item) -> dict | None:
    """How to run ``item``: None (normally) or the options of its exploration/replay."""
    config = item.config
    if not isinstance(item, pytest.Function):
        return None
    replay = config.stash.get(_REPLAY, None)
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

    _check_choice(item, "strategy", pick("strategy", "interlace_strategy", "pct"), _strategy_names())
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
    }


def _strategy_names() -> tuple[str, ...]:
    from .strategies import STRATEGIES

    return tuple(sorted(STRATEGIES))


def _check_choice(item: Any, key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise pytest.UsageError(f"{item.nodeid}: unknown interlace {key} {value!r}; choose one of: "
                                f"{', '.join(allowed)}")


def default_seed(nodeid: str, base: int | None = None) -> int:
    """The default seed of a test: a stable hash of its id (and of ``--interlace-seed`` when given)."""
    text = nodeid if base is None else f"{base}/{nodeid}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def schedule_path(config: pytest.Config, nodeid: str) -> str:
    """Where the failing schedule of ``nodeid`` is saved: ``.interlace/pytest/<sanitised id>.json``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("_.")
    if len(name) > 120:
        name = name[:100] + "-" + hashlib.sha256(nodeid.encode()).hexdigest()[:12]
    return os.path.join(str(config.rootpath), *SCHEDULE_DIR, name + ".json")


def replay_command(item: Any, path: str) -> str:
    """``pytest '<test id>' --interlace-replay=<file>``, both relative to where pytest was started."""
    invocation = str(item.config.invocation_params.dir)
    nodeid = item.nodeid
    try:
        where = os.path.relpath(str(item.path), invocation)
        rest = nodeid.split("::", 1)[1] if "::" in nodeid else ""
        nodeid = where + ("::" + rest if rest else "")
        path = os.path.relpath(path, invocation)
    except ValueError:  # another drive
        pass
    return f"pytest {_quote(nodeid)} --interlace-replay={_quote_path(path)}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _quote_path(text: str) -> str:
    return text if re.fullmatch(r"[\w@%+=:,./-]+", text) else _quote(text)


# -- running an item -----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    plan = _plan(item)
    if plan is None:
        return
    # Instance attributes shadow the methods for this item only: pytest's setup then fills only the
    # broader-scoped fixtures, and the call phase runs the exploration.
    item.setup = lambda: _setup_broader(item)  # type: ignore[method-assign]
    item.runtest = lambda: _run(item, plan)  # type: ignore[method-assign]


def _scope_of(item: Any, name: str) -> str:
    if name == "request":
        return "function"
    callspec = getattr(item, "callspec", None)
    if callspec is not None and name in callspec.params:
        scope = getattr(callspec, "_arg2scope", {}).get(name)
        return getattr(scope, "value", "function")
    defs = item._fixtureinfo.name2fixturedefs.get(name)
    if not defs:
        return "function"
    return defs[-1].scope


def _setup_broader(item: Any) -> None:
    """pytest's item setup minus the function-scoped fixtures (each execution makes its own)."""
    if _is_unittest(item):  # what TestCaseFunction.setup initialises (its teardown reads them)
        item._explicit_tearDown = None
        item._cached_errors_and_skips = None
    for name in item.fixturenames:
        if name not in item.funcargs and _scope_of(item, name) != "function":
            item.funcargs[name] = item._request.getfixturevalue(name)


def _fresh_setup(item: Any) -> None:
    """Fresh test-class instance, fresh request, fresh function-scoped fixtures (broader ones are cached)."""
    if hasattr(item, "_getinstance"):
        instance = item._getinstance()
        if instance is not None:
            item._instance = instance
            item._obj = getattr(instance, item.originalname if not _is_unittest(item) else item.name)
    item._initrequest()
    item._request._fillfixtures()


def _teardown_function_fixtures(item: Any) -> None:
    """Finish the function-scoped fixtures of the current request, last set up first torn down.

    Fixtures whose setup failed are finished too (they cache their exception; the next execution
    must run them again).
    """
    request = getattr(item, "_request", None)
    if request is None:
        return
    _prepare_teardown(item)
    ordered = [(name, fd) for name, fd in reversed(list(request._fixture_defs.items()))]
    seen = {id(fd) for _, fd in ordered}
    for name, defs in item._fixtureinfo.name2fixturedefs.items():
        for fd in reversed(defs):
            if id(fd) not in seen:
                seen.add(id(fd))
                ordered.append((name, fd))
    errors: list[BaseException] = []
    for name, fixturedef in ordered:
        if fixturedef.cached_result is None or _scope_of(item, name) != "function":
            continue
        try:
            fixturedef.finish(request)
        except BaseException as exc:  # noqa: BLE001 - collected, the first is re-raised
            errors.append(exc)
    if errors:
        raise errors[0]


def _prepare_teardown(item: Any) -> None:
    """What pytest's own plugins record before teardown and their fixtures read when torn down."""
    try:
        from _pytest.tmpdir import tmppath_result_key  # tmp_path looks up the test's outcome
    except ImportError:  # pragma: no cover - older pytest
        return
    item.stash.setdefault(tmppath_result_key, {})


def _is_unittest(item: Any) -> bool:
    try:
        from _pytest.unittest import TestCaseFunction
    except ImportError:  # pragma: no cover
        return False
    return isinstance(item, TestCaseFunction)


def _call_test(item: Any) -> None:
    if not _is_unittest(item):
        type(item).runtest(item)
        return
    # unittest.TestCase: setUp, the test, tearDown and cleanups, with exceptions propagating (the
    # TestCase.run machinery would swallow them, and interlace's internal unwinding with them).
    testcase = item.instance
    testcase.setUp()
    try:
        getattr(testcase, item.name)()
    finally:
        try:
            testcase.tearDown()
        finally:
            cleanups = getattr(testcase, "_cleanups", [])
            while cleanups:
                function, args, kwargs = cleanups.pop()
                function(*args, **kwargs)


def _execution_body(item: Any) -> Callable[[], None]:
    from .runtime.execution import Abort

    def body() -> None:
        _teardown_function_fixtures(item)  # leftovers of an execution that was cut short
        _fresh_setup(item)
        try:
            _call_test(item)
        except Abort:
            raise
        except BaseException:
            try:
                _teardown_function_fixtures(item)
            except Exception:  # noqa: BLE001 - the test's own failure is the one to report
                pass
            raise
        _teardown_function_fixtures(item)

    body.__qualname__ = body.__name__ = getattr(item, "originalname", item.name)
    return body


def _until_nothing_to_choose(name: str, seed: int) -> Any:
    """The strategy ``name``, stopping the exploration after a first execution that made no choice.

    An execution where no two threads could ever run at the same point is the only execution there
    is (the strategy is asked nothing, everything else is deterministic), so running it 99 more times
    would only cost time: most tests of a suite never start a thread.
    """
    from .strategies import Strategy, make_strategy

    inner = make_strategy(name, seed)

    class UntilNothingToChoose(Strategy):
        def __init__(self) -> None:
            super().__init__(seed)
            self.name = inner.name
            self.index = 0
            self.nothing_to_choose = False

        def begin(self, index: int) -> bool:
            self.index = index
            if self.nothing_to_choose:
                return False
            return inner.begin(index)

        def thread_created(self, tid: int) -> None:
            inner.thread_created(tid)

        def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
            return inner.choose(enabled, current, execution)

        def end(self, execution: Any) -> None:
            if self.index == 0 and not execution.choices and execution.failure is None:
                self.nothing_to_choose = True
            inner.end(execution)

        def describe(self) -> str:
            return inner.describe()

        def __getattr__(self, attr: str) -> Any:
            return getattr(inner, attr)

    return UntilNothingToChoose()


def _outcome_exception(result: Any) -> BaseException | None:
    """A skip/xfail/exit raised by the test: pytest's business, not a failure to explore."""
    failure = result.failure
    exc = getattr(failure, "exception", None) if failure is not None else None
    if exc is None:
        return None
    import unittest

    from _pytest.outcomes import Exit, Skipped, XFailed

    if isinstance(exc, (Skipped, XFailed, Exit, unittest.SkipTest)):
        return exc
    return None


def _run(item: Any, plan: dict) -> None:
    import interlace

    body = _execution_body(item)
    config = item.config
    seen: set[tuple] = set()
    started = time.perf_counter()
    replaying = plan["replay"] is not None
    try:
        if replaying:
            result = interlace.replay(body, plan["replay"], races=plan["races"])
            seen.add(tuple(result.schedule.choices) if result.schedule is not None else ())
        else:
            options: dict = {}
            if plan["time_limit"] is not None:
                options["time_limit"] = float(plan["time_limit"])
            if plan["max_steps"] is not None:
                options["max_steps"] = int(plan["max_steps"])
            result = interlace.explore(
                body, executions=plan["executions"], seed=plan["seed"],
                strategy=_until_nothing_to_choose(plan["strategy"], plan["seed"]),
                model=plan["model"], races=plan["races"], target={"pytest": item.nodeid},
                on_execution=lambda index, ex: seen.add(tuple(ex.choices)), **options,
            )
    finally:
        try:
            _teardown_function_fixtures(item)  # outside any execution: whatever an aborted run left
        except Exception:  # noqa: BLE001 - the exploration's outcome matters more
            pass
    elapsed = time.perf_counter() - started
    outcome = _outcome_exception(result)
    stats = {
        "nodeid": item.nodeid, "executions": result.executions, "interleavings": len(seen),
        "elapsed": round(elapsed, 4), "seed": result.seed, "strategy": result.strategy,
        "mode": "replay" if replaying else "explore", "failed": not result.ok and outcome is None,
        "exhausted": bool(result.exhausted),
        "coverage": result.coverage_line() if result.coverage else None,
        "uninstrumented": [u for u in result.uninstrumented if not u.startswith("interlace.")],
        "races": sum(1 for r in result.races if not r.suppressed) + len(result.lock_inversions),
    }
    item.user_properties.append(("interlace", stats))
    if outcome is not None:
        raise outcome
    if replaying:
        _finish_replay(item, result)
        return
    _tidy(result)
    if not result.ok:
        path = schedule_path(config, item.nodeid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(result.schedule.to_json())
        command = replay_command(item, path)
        _fail(f"{_strip_frames(result.report())}\n\nReplay it: {command}", result)
    _warn_races(item, result)


def _finish_replay(item: Any, result: Any) -> None:
    path = item.config.getoption("interlace_replay")
    _tidy(result)
    if result.divergence is not None:
        pytest.fail(f"interlace: the test diverged from the schedule in {path}: {result.divergence}\n"
                    "(the code or the test changed since the schedule was recorded, or it depends on "
                    "something interlace does not control)", pytrace=False)
    if not result.ok:
        _fail(f"{_strip_frames(result.report())}\n\nReproduced by replaying {path}", result)
    _warn_races(item, result)


class _InterlaceFailed(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Fails a test with interlace's whole report, and carries the one line that stands for it."""

    def __init__(self, text: str, headline: str) -> None:
        super().__init__(text, pytrace=False)
        self.headline = headline


def _fail(text: str, result: Any) -> None:
    message = result.failure.message if result.failure is not None else "failure"
    raise _InterlaceFailed(text, f"interlace: {message.splitlines()[0] if message else 'failure'}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """One line for a failed exploration in the short test summary.

    pytest prints the whole failure message there when it runs on CI (``CI`` set) or with ``-vv``; a
    forty-line report repeated in the summary would bury the other results.
    """
    report = yield
    failed = call.excinfo.value if call.excinfo is not None else None
    crash = getattr(report.longrepr, "reprcrash", None)
    if isinstance(failed, _InterlaceFailed) and crash is not None:
        crash.message = failed.headline
    return report


def _tidy(result: Any) -> None:
    """Keep the report about the user's code: no plugin entries, no pytest/pluggy frames."""
    result.uninstrumented = [u for u in result.uninstrumented if not u.startswith("interlace.")]


_FRAMEWORK = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                   for m in (pytest, __import__("_pytest"), __import__("pluggy")))


_FILE_LINE = re.compile(r'^(\s*)File "([^"]+)", line')


def _strip_frames(text: str) -> str:
    """Drop the stack entries (a ``File`` line and the lines indented below it) of pytest and pluggy.

    They sit between the plugin and the test in every traceback and in the stacks of races found in
    the test function itself, and say nothing about the program.
    """
    out: list[str] = []
    skip_indent: int | None = None
    for line in text.splitlines(keepends=True):
        indent = len(line) - len(line.lstrip(" "))
        if skip_indent is not None and line.strip() and indent > skip_indent:
            continue
        skip_indent = None
        match = _FILE_LINE.match(line)
        if match and os.path.abspath(match.group(2)).startswith(_FRAMEWORK):
            skip_indent = len(match.group(1))
            continue
        out.append(line)
    stripped = "".join(out)
    if text.count('File "') and not stripped.count('File "'):
        return text  # the error is in pytest itself: better all of it than nothing
    return stripped


def _warn_races(item: Any, result: Any) -> None:
    for found in [r for r in result.races if not r.suppressed] + list(result.lock_inversions):
        # attributed to the test function, so the warnings summary points at the test, not at the plugin
        warnings.warn_explicit(InterlaceRaceWarning(f"{item.nodeid}: {_strip_frames(found.format())}"),
                               InterlaceRaceWarning, str(item.path), (item.location[1] or 0) + 1,
                               module=getattr(getattr(item, "module", None), "__name__", None))


# -- reporting -----------------------------------------------------------------------------------------


class _Summary:
    """Collects the per-test statistics from the reports (so xdist workers' results reach the controller)."""

    def __init__(self) -> None:
        self.stats: list[dict] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == "interlace" and isinstance(value, dict):
                self.stats.append(dict(value))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary = config.stash.get(_SUMMARY, None)
    stats = summary.stats if summary is not None else []
    if not stats:
        return
    tr = terminalreporter
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
            f"{_n(s['interleavings'], 'distinct interleaving')}, {s['elapsed']:.2f}s "
            f"(seed {s['seed']}){note} [{verdict}]"
        )
        missing = s.get("uninstrumented") or []
        if missing and not s["failed"]:
            shown = ", ".join(missing[:3]) + (f", ... ({len(missing) - 3} more)" if len(missing) > 3 else "")
            tr.write_line(f"    not instrumented (ran without scheduling points): {shown}")
    total = sum(s["elapsed"] for s in stats)
    executions = sum(s["executions"] for s in stats)
    tr.write_line(f"interlace: {_n(len(stats), 'test')}, {_n(executions, 'execution')} in {total:.2f}s")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
