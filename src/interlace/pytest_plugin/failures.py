"""How a failed or racy exploration reaches pytest: the failure, its one-line headline, the race warnings.

Exists to keep what pytest shows about the user's code: interlace's report without pytest's and
pluggy's stack entries, a failure whose short-summary line is one headline rather than the whole
report, and races (with ``--interlace-races=warn``) as warnings attributed to the test itself.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import pytest


class InterlaceRaceWarning(UserWarning):
    """A data race or lock-order inversion found while the test's assertions passed.

    Issued with ``--interlace-races=warn`` (or ``@pytest.mark.interlace(races="warn")``); pytest lists
    it in its warnings summary.
    """


# Its public name, the one ``-W error::interlace.pytest_plugin.InterlaceRaceWarning`` and xdist's
# warning transport use (the package re-exports it).
InterlaceRaceWarning.__module__ = "interlace.pytest_plugin"


class InterlaceFailed(pytest.fail.Exception):  # type: ignore[misc,name-defined]
    """Fails a test with interlace's whole report, and carries the one line that stands for it."""

    def __init__(self, text: str, headline: str) -> None:
        super().__init__(text, pytrace=False)
        self.headline = headline


def fail(text: str, result: Any) -> None:
    message = result.failure.message if result.failure is not None else "failure"
    raise InterlaceFailed(text, f"interlace: {message.splitlines()[0] if message else 'failure'}")


def deferred_failure(exc: BaseException) -> InterlaceFailed | None:
    """interlace's failure for ``exc`` if a deferred signal's handler raised it during the exploration
    (pytest-timeout's timeout, see ``runtime.watchdog.interrupts``): its message and where the exploration
    was, without the frames of interlace and pytest-timeout it was raised through; else None."""
    from ..runtime.watchdog import deferred_note

    note = deferred_note(exc)
    if note is None or not isinstance(exc, pytest.fail.Exception):
        return None
    message = str(exc.msg).strip()
    return InterlaceFailed(f"{message}\n\n{note}",
                           f"{message.splitlines()[0] if message else 'failed'} (during interlace's exploration)")


def tidy(result: Any) -> None:
    """Keep the report about the user's code: no plugin entries, no pytest/pluggy frames."""
    result.uninstrumented = [u for u in result.uninstrumented if not u.startswith("interlace.")]


_FRAMEWORK = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep
                   for m in (pytest, __import__("_pytest"), __import__("pluggy")))


_FILE_LINE = re.compile(r'^(\s*)File "([^"]+)", line')


def strip_frames(text: str) -> str:
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


def warn_races(item: Any, result: Any) -> None:
    for found in [r for r in result.races if not r.suppressed] + list(result.lock_inversions):
        with warnings.catch_warnings():
            if getattr(found, "note", False):
                # a benign race is shown, never made an error by a suite's ``filterwarnings = error``
                # (janus: 15 of its tests failed so); a race with races="warn" follows the filters
                warnings.simplefilter("always", InterlaceRaceWarning)
            # attributed to the test function, so the warnings summary points at the test, not at the plugin
            warnings.warn_explicit(InterlaceRaceWarning(f"{item.nodeid}: {strip_frames(found.format())}"),
                                   InterlaceRaceWarning, str(item.path), (item.location[1] or 0) + 1,
                                   module=getattr(getattr(item, "module", None), "__name__", None))
