"""Library code that walks a container where instrumented code cannot see it.

``max(d, key=f)``, ``functools.reduce(f, s)``, ``sorted``, ``map``, ``filter`` and ``list.sort(key=f)``
iterate in C and call back into Python for each element: under CPython the interpreter can switch
threads inside each callback, between two elements, even when the callback touches only its
arguments. ``copy.deepcopy`` is Python code of the standard library (not instrumented) that copies a
container one item at a time. Without a scheduling point inside them, another thread's insertion could
only happen before or after the whole walk, and "dictionary changed size during iteration" was never
explored.

Each is classified (see :class:`~interlace.runtime.calls.CallClassifier`) as one access of the whole
container it walks (a read; a write for ``sort``), at the call, and is replaced by a wrapper whose
callbacks (for ``deepcopy``: its memo's lookups, one per object copied) are each first a step of the
same access: a scheduling point in either model. A walk over something else than a mutable builtin
container (a generator, a tuple) makes calls instead, which conflict with everything.
``json.dumps``/``json.dump`` with the C encoder walk without calling back: one atomic read of the
whole container.
"""

from __future__ import annotations

import collections
import copy
import functools
import json
from collections.abc import Callable
from types import MethodType
from typing import Any

from .containers import container_base

READ, WRITE = "read", "write"


def _container(obj: Any) -> bool:
    return container_base(type(obj)) is not None


def _each(ex: Any, cb: Any, kind: str, container: Any, what: str) -> Any:
    """``cb`` with every call first a step of the walk (see Execution.walk_step)."""
    if not callable(cb):
        return cb
    site = ex.current.site if ex.current is not None else None

    def stepped(*args: Any, **kwargs: Any) -> Any:
        ex.walk_step(kind if container is not None else None, container, what, site)
        return cb(*args, **kwargs)

    return stepped


def _calls_back(callback: int | str, walked: int, kind: str = READ) -> Callable[[Any, tuple, Any], tuple]:
    """A classifier for ``fn(...)`` that calls back ``args[callback]`` (or keyword ``callback``) while it
    walks ``args[walked]``."""

    def classify(fn: Any, args: tuple, ex: Any) -> tuple:
        what = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "call")
        obj = args[walked] if len(args) > walked else None
        if fn in (max, min) and len(args) != 1:
            obj = None  # max(a, b, key=f): no container
        container = obj if _container(obj) else None

        def call(*a: Any, **kw: Any) -> Any:
            if isinstance(callback, str):
                if callback in kw:
                    kw[callback] = _each(ex, kw[callback], kind, container, what)
            elif len(a) > callback:
                a = (*a[:callback], _each(ex, a[callback], kind, container, what), *a[callback + 1:])
            return fn(*a, **kw)

        if container is None:
            return "call", what, call, None
        return kind, what, call, (container, "*", True)

    return classify


class _StepMemo(dict):
    """The memo of a ``copy.deepcopy``: it is looked up once per object copied, which makes each lookup
    a step of the walk over the container being copied."""

    def __init__(self, ex: Any, container: Any, site: Any) -> None:
        super().__init__()
        self._walk = (ex, container, site)

    def get(self, key: Any, default: Any = None) -> Any:
        ex, container, site = self._walk
        ex.walk_step(READ if container is not None else None, container, "copy.deepcopy", site)
        return dict.get(self, key, default)


def _deepcopy(fn: Any, args: tuple, ex: Any) -> tuple:
    obj = args[0] if args else None
    if len(args) > 1 or obj is None or not _container(obj):
        return "call", "copy.deepcopy", None, None
    site = ex.current.site if ex.current is not None else None

    def call(x: Any, memo: Any = None) -> Any:
        return copy.deepcopy(x, _StepMemo(ex, obj, site) if memo is None else memo)

    return READ, "copy.deepcopy", call, (obj, "*", True)


def _whole_read(name: str) -> Callable[[Any, tuple, Any], tuple]:
    def classify(fn: Any, args: tuple, ex: Any) -> tuple:
        obj = args[0] if args else None
        if _container(obj):
            return READ, name, None, (obj, "*", True)
        return "call", name, None, None

    return classify


def _read_then_write(name: str) -> Callable[[Any, tuple, Any], tuple]:
    """A library method written in Python that reads the items of its container and writes them back
    (``Counter.update``: ``self[elem] = count + self_get(elem, 0)`` for each element). It is not atomic:
    two threads' updates can lose counts. It runs uninstrumented, so it is told as a read of the whole
    container at the call and a write of it once the method returned: the race detector sees a
    read-then-write, and another thread's between them is a lost update."""

    def classify(fn: Any, args: tuple, ex: Any) -> tuple:
        obj = fn.__self__ if type(fn) is MethodType else args[0] if args else None
        if not _container(obj):
            return "call", name, None, None
        site = ex.current.site if ex.current is not None else None

        def call(*a: Any, **kw: Any) -> Any:
            result = fn(*a, **kw)
            ex.walk_step(WRITE, obj, name, site)
            return result

        return READ, name, call, (obj, "*", False)

    return classify


def _method_read(name: str) -> Callable[[Any, tuple, Any], tuple]:
    """A library method written in Python that reads all of its container (``Counter.most_common``)."""

    def classify(fn: Any, args: tuple, ex: Any) -> tuple:
        obj = fn.__self__ if type(fn) is MethodType else args[0] if args else None
        if _container(obj):
            return READ, name, None, (obj, "*", False)
        return "call", name, None, None

    return classify


#: callee -> classify(fn, args, ex) -> (kind, what, replacement, target), like CallClassifier.classify
WALKERS: dict[Any, Callable[[Any, tuple, Any], tuple]] = {
    functools.reduce: _calls_back(0, 1), map: _calls_back(0, 1), filter: _calls_back(0, 1),
    max: _calls_back("key", 0), min: _calls_back("key", 0), sorted: _calls_back("key", 0),
    copy.deepcopy: _deepcopy, copy.copy: _whole_read("copy.copy"),
    json.dumps: _whole_read("json.dumps"), json.dump: _whole_read("json.dump"),
    collections.Counter.update: _read_then_write("Counter.update()"),
    collections.Counter.subtract: _read_then_write("Counter.subtract()"),
    collections.Counter.most_common: _method_read("Counter.most_common()"),
    collections.Counter.elements: _method_read("Counter.elements()"),
    **({collections.Counter.total: _method_read("Counter.total()")} if hasattr(collections.Counter, "total") else {}),
}

#: ``list.sort``: a write of the whole list, with a step at each call of its key
SORT = _calls_back("key", 0, WRITE)
