"""Instrumented calls run in the caller's own frame: code that looks at its caller still sees the user's code."""

from __future__ import annotations

import collections
import io
import logging
import warnings

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)


def program():
    point = collections.namedtuple("Point", "x y")
    assert point.__module__ == __name__, point.__module__

    stream = io.StringIO()
    log = logging.getLogger("interlace-frames-test")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(filename)s:%(funcName)s"))
    log.addHandler(handler)
    try:
        log.warning("hello")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().strip() == "test_semantics_frames.py:program", stream.getvalue()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("careful", stacklevel=1)
    assert caught[0].filename == __file__, caught[0].filename

    def f(a):
        return a

    with pytest.raises(TypeError, match=r"f\(\) takes 1 positional argument but 2 were given"):
        f(1, 2)

    namespace = {}
    exec("y = 2", globals(), namespace)  # exec of a string is rewritten and still sees its namespaces
    assert namespace["y"] == 2
    z = 5
    assert eval("z + 1") == z + 1  # eval without namespaces sees the caller's locals


def test_caller_frames_are_the_users():
    result = interlace.explore(program, executions=3, seed=1)
    assert result.uninstrumented == []
    assert result.ok, result.report()
