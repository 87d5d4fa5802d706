"""Which code objects were produced by the rewriter.

Identity based (``id`` → weak reference checked on lookup), so two equal code objects (code objects
compare by value) are never confused, nothing is kept alive, and a lookup costs one dict probe.
Every nested code object (functions, lambdas, comprehensions, class bodies) is registered too.
"""

from __future__ import annotations

import os
import types
import weakref
from typing import Any

_codes: dict[int, weakref.ref] = {}
_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # interlace's package


def register(code: types.CodeType) -> None:
    stack = [code]
    codes = _codes
    while stack:
        c = stack.pop()
        key = id(c)
        old = codes.get(key)
        if old is not None and old() is c:
            continue

        def _gone(_ref: weakref.ref, key: int = key) -> None:
            cur = codes.get(key)
            if cur is _ref:
                del codes[key]

        codes[key] = weakref.ref(c, _gone)
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)


def is_instrumented_code(code: Any) -> bool:
    ref = _codes.get(id(code))
    return ref is not None and ref() is code or _copied(code)


def _copied(code: Any) -> bool:
    """Whether ``code`` is a copy of rewritten code made by ``code.replace()``, which calls the hooks
    as the rewritten code does (``types.coroutine`` sets a flag so on a generator function that a test
    defines: pykka's ``test_future_supports_yield_from_syntax`` was reported not instrumented). Such a
    copy is registered when first seen."""
    if not isinstance(code, types.CodeType) or code.co_filename.startswith(_OWN) \
            or not any(name.startswith("_il_") for name in code.co_names):
        return False  # (interlace's own code calls the hooks by those names too)
    register(code)
    return True


def is_instrumented_function(fn: Any) -> bool:
    fn = getattr(fn, "__func__", fn)  # bound methods, staticmethod, classmethod
    code = getattr(fn, "__code__", None)
    return code is not None and is_instrumented_code(code)
