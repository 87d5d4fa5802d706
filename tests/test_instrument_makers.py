"""Every function that runs in a managed thread is instrumented, whatever made it, or is reported.

The module below is imported plainly (as a test's helper module is, before ``explore`` is called),
and its workers are made at import time in every way Python offers and kept where no walk of the
module's names finds them. Each one does a lost update (``d[k] = d.get(k, 0) + 1``): DPOR must find
it, which it can only if the worker's code was rewritten.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
import types
import uuid

import pytest

import interlace
from interlace.instrument import adopt, is_instrumented_function

MAKERS = r'''
import functools
import threading
import types

d = {}


def make_worker(key):
    def work():
        d[key] = d.get(key, 0) + 1
    return work


def bump(key):
    d[key] = d.get(key, 0) + 1


class Counter:
    def bump(self, key):
        d[key] = d.get(key, 0) + 1

    def __call__(self, key):
        d[key] = d.get(key, 0) + 1


def logged(fn):
    def wrapper(*args):
        return fn(*args)
    return wrapper


def make_class():
    class Local:
        def run(self, key):
            d[key] = d.get(key, 0) + 1
    return Local


def make_thread_class():
    class Worker(threading.Thread):
        def run(self):
            d["k"] = d.get("k", 0) + 1
    return Worker


FACTORY = [make_worker("k") for _ in range(2)]
PARTIAL = [functools.partial(bump, "k") for _ in range(2)]
BOUND = {"methods": (Counter().bump, Counter().bump)}
LAMBDAS = [(lambda: d.__setitem__("k", d.get("k", 0) + 1)) for _ in range(2)]
LAMBDA_RMW = [lambda: bump("k") for _ in range(2)]
DECORATED = [logged(make_worker("k")) for _ in range(2)]
LOCAL_CLASS = [make_class()() for _ in range(2)]
CALLABLE = [Counter() for _ in range(2)]
THREAD_CLASS = make_thread_class()
exec("def generated():\n    d['k'] = d.get('k', 0) + 1\n")  # at import: never rewritten


@types.coroutine
def awaitable_bump():
    d["k"] = d.get("k", 0) + 1
    yield


async def await_twice():
    d.clear()
    await awaitable_bump()
    await awaitable_bump()
    assert d["k"] == 2, d
del make_worker, Counter, logged, make_class, make_thread_class  # reachable only through the lists


def run(targets, args=()):
    d.clear()
    threads = [threading.Thread(target=t, args=args) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert d["k"] == 2, d


def run_subclass():
    d.clear()
    threads = [THREAD_CLASS() for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert d["k"] == 2, d
'''


@pytest.fixture
def makers(tmp_path, monkeypatch):
    """The module above, imported plainly (not through interlace's import hook)."""
    monkeypatch.setenv("INTERLACE_CACHE_DIR", str(tmp_path / "cache"))
    name = "ilmakers_" + uuid.uuid4().hex[:8]
    (tmp_path / f"{name}.py").write_text(MAKERS)
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


CASES = [
    ("FACTORY", ()), ("PARTIAL", ()), ("LAMBDAS", ()), ("LAMBDA_RMW", ()), ("DECORATED", ()),
    ("CALLABLE", ("k",)),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "args"), CASES, ids=[c[0] for c in CASES])
def test_workers_made_at_import_are_instrumented(makers, name, args):
    targets = getattr(makers, name)
    result = interlace.explore(lambda: makers.run(targets, args), strategy="dpor", executions=50)
    assert not result.ok and "AssertionError" in result.failure.message
    assert result.uninstrumented == []


@pytest.mark.timeout(60)
def test_bound_methods_and_methods_of_classes_made_in_functions(makers):
    bound = makers.BOUND["methods"]
    result = interlace.explore(lambda: makers.run(bound, ("k",)), strategy="dpor", executions=50)
    assert not result.ok and result.uninstrumented == []
    local = [obj.run for obj in makers.LOCAL_CLASS]
    result = interlace.explore(lambda: makers.run(local, ("k",)), strategy="dpor", executions=50)
    assert not result.ok and result.uninstrumented == []
    result = interlace.explore(makers.run_subclass, strategy="dpor", executions=50)
    assert not result.ok and result.uninstrumented == []


@pytest.mark.timeout(60)
def test_adopt_instruments_a_function_met_late_and_its_siblings(makers):
    """A function of a module under test not instrumented yet when an execution meets it (the
    runtime's safety net): instrumented then, with every other function made from the module."""
    first, second = makers.FACTORY
    assert not is_instrumented_function(first)
    assert adopt(first) == (True, [])
    assert is_instrumented_function(first) and is_instrumented_function(second)
    assert all(is_instrumented_function(p.func) for p in makers.PARTIAL)
    assert adopt(sys.modules["json"].dumps) == (False, [])  # not under test: left alone


@pytest.mark.timeout(60)
def test_generated_thread_target_is_reported_and_denies_exhaustion(makers):
    """Code made from a string before the exploration has no source to rewrite: named, on the
    console too, and no strategy claims to have explored every interleaving."""
    result = interlace.explore(lambda: makers.run([makers.generated] * 2), strategy="dpor", executions=50)
    expected = f"{makers.__name__}.generated: generated code (exec/compile) made before the exploration"
    assert result.uninstrumented == [expected]
    assert result.ok and not result.exhausted
    # (each thread's call of the generated target is a point that conflicts with everything: its
    # orders against the other's and against the main thread's reads of ``threads``)
    assert result.coverage_line() == (
        "6 interleaving classes explored (DPOR), not all of them: some code ran without scheduling "
        "points (not instrumented)")
    assert result.report().endswith(f"Not instrumented (ran without scheduling points):\n  {expected}")


@pytest.mark.timeout(60)
def test_a_flag_a_decorator_set_on_the_code_survives_its_instrumentation(makers):
    """``types.coroutine`` makes a generator function awaitable by a flag on its code: the rewritten
    code that replaces it keeps the flag (``await awaitable_bump()`` raised TypeError without it)."""
    assert not is_instrumented_function(makers.awaitable_bump)
    result = interlace.explore(lambda: asyncio.run(makers.await_twice()), executions=5, seed=0, races="off")
    assert result.ok and result.uninstrumented == [], result.report()
    code = makers.awaitable_bump.__code__
    assert is_instrumented_function(makers.awaitable_bump) and code.co_flags & inspect.CO_ITERABLE_COROUTINE


@pytest.mark.timeout(60)
def test_code_copied_from_rewritten_code_counts_as_rewritten():
    """``types.coroutine`` applied during an execution copies the rewritten code with a flag set
    (``code.replace``): the copy calls the hooks as the original does. It was reported "source changed
    since import" (pykka's ``test_future_supports_yield_from_syntax``), and then in every later test."""

    def program():
        d = {}

        @types.coroutine
        def bump():
            v = d.get("k", 0)
            yield
            d["k"] = v + 1

        async def main():
            await asyncio.gather(bump(), bump())
            assert d["k"] == 2, "lost update"

        asyncio.run(main())

    result = interlace.explore(program, executions=50, seed=0)
    assert result.uninstrumented == []
    assert result.failure.message.startswith("AssertionError in the main function: lost update")
