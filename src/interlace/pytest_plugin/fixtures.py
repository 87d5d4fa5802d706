"""Fresh function-scoped fixtures, test instance and request for every execution of an explored test.

Exists because pytest sets an item up once, while an explored test runs many times: everything the
function-scoped fixtures build (locks, queues, executors, the service under test) must be built
inside each execution, under the scheduler's control, and torn down before the next one. The broader
fixtures are set up once, outside any execution, and shared.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from .subtests import SubtestFailures, fixture_subtests, is_timeout, unittest_subtests


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


def setup_broader(item: Any) -> None:
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
    _fresh_log_capture(item)
    item._request._fillfixtures()


def _fresh_log_capture(item: Any) -> None:
    """``caplog`` reads the records pytest collects once per phase of the test (its handler is not a
    fixture's): each execution starts with none, so that ``caplog.messages == [...]`` sees its own."""
    try:
        from _pytest.logging import caplog_handler_key
    except ImportError:  # pragma: no cover - another pytest
        return
    handler = item.stash.get(caplog_handler_key, None)
    if handler is not None:
        handler.clear()  # (in place: caplog.get_records("call") reads the same list)


def teardown_function_fixtures(item: Any) -> None:
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


def _is_bare_coroutine_test(item: Any) -> bool:
    """An ``async def`` test that no async plugin took over (pytest-asyncio and anyio make items of
    their own, or mark them): interlace runs it with ``asyncio.run`` in each execution, where the
    loop is the controlled one (see runtime/eventloop.py); pytest alone would skip it."""
    if type(item) is not pytest.Function or item.get_closest_marker("anyio") is not None:
        return False
    return inspect.iscoroutinefunction(getattr(item, "obj", None))


def _call_test(item: Any) -> None:
    failures = SubtestFailures()  # a failing subtest lets the test go on, and fails it at the end
    if not _is_unittest(item):
        fixture_subtests(item, failures)
        if _is_bare_coroutine_test(item):
            import asyncio

            arguments = {name: item.funcargs[name] for name in item._fixtureinfo.argnames}
            asyncio.run(item.obj(**arguments))
        else:
            type(item).runtest(item)
        failures.raise_if_any()
        return
    # unittest.TestCase: setUp, the test, tearDown and cleanups, with exceptions propagating (the
    # TestCase.run machinery would swallow them, and interlace's internal unwinding with them).
    testcase = item.instance
    testcase.setUp()
    try:
        with unittest_subtests(testcase, failures):
            getattr(testcase, item.name)()
        failures.raise_if_any()
    finally:
        try:
            testcase.tearDown()
        finally:
            cleanups = getattr(testcase, "_cleanups", [])
            while cleanups:
                function, args, kwargs = cleanups.pop()
                function(*args, **kwargs)


def execution_body(item: Any) -> Callable[[], None]:
    """What one execution runs: fresh fixtures, the test, the teardown of those fixtures."""
    from ..runtime.state import Abort

    timed_out: list[BaseException] = []

    def body() -> None:
        if timed_out:  # the test's time is up: every later run (shrinking's replays) ends at once
            raise timed_out[0]
        teardown_function_fixtures(item)  # leftovers of an execution that was cut short
        _fresh_setup(item)
        try:
            _call_test(item)
        except Abort:
            raise
        except BaseException as exc:
            if is_timeout(exc):
                timed_out.append(exc)
            try:
                teardown_function_fixtures(item)
            except Exception:  # noqa: BLE001 - the test's own failure is the one to report
                pass
            raise
        teardown_function_fixtures(item)

    body.__qualname__ = body.__name__ = getattr(item, "originalname", item.name)
    return body
