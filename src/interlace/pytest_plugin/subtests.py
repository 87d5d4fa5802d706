"""Subtests inside an execution: a failing subtest does not end the test, and fails the execution.

Exists because an explored test is not run by pytest's runner: interlace calls a unittest method
directly (``TestCase.run`` would swallow the exceptions that end an execution), so
``self.subTest()`` finds no outcome to report to and lets the first failure abort the method; and
the ``subtests`` fixture (pytest 9, or the pytest-subtests plugin) would report each subtest of each
execution to pytest by itself, failing the test behind interlace's back. Here both record their
failures and let the test go on, as they do plainly; at the end of the execution, a test with failed
subtests fails with all of them named, so interlace sees it (explores, shrinks, reports) and pytest
reports it once, failed.
"""

from __future__ import annotations

import contextlib
import unittest
from collections.abc import Iterator
from typing import Any


def is_timeout(exc: BaseException) -> bool:
    """pytest-timeout's signal: it fails the test from the main thread, wherever that thread is (a
    subtest's failure would let the test run on past its time)."""
    return type(exc).__name__ == "Failed" and "from pytest-timeout" in str(exc)


class SubtestFailures:
    """The subtests of one execution that failed: ``(description, exception)``."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, BaseException]] = []

    def caught(self, description: str, exc: BaseException) -> bool:
        """Whether ``exc`` raised in a subtest is the subtest's failure (recorded) or must go on
        unwinding (interlace's end of an execution, an interrupt, pytest's exit or skip)."""
        from _pytest.outcomes import Exit, Skipped

        from ..runtime.state import Abort

        if isinstance(exc, (Abort, KeyboardInterrupt, SystemExit, Exit, GeneratorExit)) or is_timeout(exc):
            return False
        if isinstance(exc, (unittest.SkipTest, Skipped)):
            return True  # a skipped subtest: the test goes on, not failed
        self.failed.append((description, exc))
        return True

    def raise_if_any(self) -> None:
        if not self.failed:
            return
        lines = [f"{len(self.failed)} subtest(s) failed:"]
        lines += [f"  {desc}: {type(exc).__name__}: {exc}".rstrip() for desc, exc in self.failed]
        raise AssertionError("\n".join(lines)) from self.failed[0][1]


class _Outcome:
    """What ``TestCase.subTest`` asks of ``TestCase._outcome`` (3.10-3.14): a part executor that
    records a subtest's failure instead of raising it."""

    result_supports_subtests = True
    expecting_failure = False
    expectedFailure = None  # noqa: N815 - unittest's name
    result = None

    def __init__(self, failures: SubtestFailures) -> None:
        self.failures = failures
        self.success = True

    @contextlib.contextmanager
    def testPartExecutor(self, test_case: Any, subTest: bool = False, isTest: bool = False) -> Iterator[None]:  # noqa: N802,N803
        old_success = self.success
        self.success = True
        try:
            yield
        except BaseException as exc:
            description = test_case._subDescription() if hasattr(test_case, "_subDescription") else str(test_case)
            if not self.failures.caught(description, exc):
                raise
            self.success = False
        finally:
            self.success = self.success and old_success


@contextlib.contextmanager
def unittest_subtests(testcase: unittest.TestCase, failures: SubtestFailures) -> Iterator[None]:
    """``testcase.subTest()`` records failures in ``failures`` while the method runs."""
    saved = testcase._outcome
    testcase._outcome = _Outcome(failures)  # type: ignore[assignment]
    try:
        yield
    finally:
        testcase._outcome = saved


class _RecordingSubtests:
    """Stands in for the ``subtests`` fixture's value during an execution: the same ``test()``."""

    def __init__(self, original: Any, failures: SubtestFailures) -> None:
        self._original = original
        self._failures = failures

    @contextlib.contextmanager
    def test(self, msg: str | None = None, **kwargs: Any) -> Iterator[None]:
        parts = [f"[{msg}]"] if msg is not None else []
        if kwargs:
            parts.append("(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")")
        try:
            yield
        except BaseException as exc:
            if not self._failures.caught(" ".join(parts) or "(subtest)", exc):
                raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def fixture_subtests(item: Any, failures: SubtestFailures) -> None:
    """Replace the ``subtests`` fixture value of this execution (if the test asks for it)."""
    funcargs = getattr(item, "funcargs", None)
    value = funcargs.get("subtests") if funcargs else None
    if value is not None and callable(getattr(value, "test", None)):
        funcargs["subtests"] = _RecordingSubtests(value, failures)
