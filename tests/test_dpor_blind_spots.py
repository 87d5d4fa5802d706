"""Accesses that CPython makes in C on behalf of the code under test: DPOR must see them, or it
reports every interleaving explored while a failing one exists (each of these programs used to end
"exhausted" after 1 or 2 executions; pct and random failed them)."""

from __future__ import annotations

import collections
import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(60)


def _pair(first, second):
    one, two = threading.Thread(target=first), threading.Thread(target=second)
    one.start()
    two.start()
    one.join()
    two.join()


def deque_check_then_act():
    q = collections.deque([1])
    taken = []

    def take():
        if q:  # the truth test reads the deque's length in C
            taken.append(q.popleft())

    _pair(take, take)


def deque_while_len():
    q = collections.deque([1])

    def take():
        while len(q) > 0:  # len() of a container reads it
            q.popleft()

    _pair(take, take)


def list_iadd_against_len():
    items = []
    seen = []

    def extend():
        mine = items
        mine += [1, 2]  # a local name, the list changed in place

    def measure():
        seen.append(len(items))

    _pair(extend, measure)
    assert seen == [2]


def match_on_changing_mapping():
    m = {"kind": "a"}
    out = []

    def change():
        m["kind"] = "b"

    def classify():
        match m:  # the mapping pattern reads the dict in C
            case {"kind": "a"}:
                out.append("a")
            case _:
                out.append("other")

    _pair(change, classify)
    assert out == ["other"]


def memoryview_alias():
    buf = bytearray(b"\x00")
    view = memoryview(buf)
    out = []

    def write():
        view[0] = 1

    def read():
        out.append(buf[0])

    _pair(write, read)
    assert out == [1]


def set_ior_against_truth():
    flags = set()
    out = []

    def add():
        mine = flags
        mine |= {1}

    def check():
        out.append(not flags)

    _pair(add, check)
    assert out == [False]


def list_compared_while_appended():
    flag = []

    def append():
        flag.append(1)

    def check():
        assert flag == [1]  # comparing a list reads all of it, in C: fails if it runs first

    _pair(append, check)


def dict_compared_while_stored():
    a, b = {}, {"k": 1}

    def store():
        a["k"] = 1

    def check():
        assert a == b  # fails only if it runs before the store

    _pair(store, check)


@pytest.mark.parametrize("program", [deque_check_then_act, deque_while_len, list_iadd_against_len,
                                     match_on_changing_mapping, memoryview_alias, set_ior_against_truth,
                                     list_compared_while_appended, dict_compared_while_stored])
def test_dpor_finds_the_failure(program):
    result = interlace.explore(program, strategy="dpor", executions=50, races="off", shrink=False)
    assert not result.ok
    assert not result.exhausted
    assert result.failure.kind == "exception"
    assert result.executions <= 3
