"""Whether two lines of source are in one function: the race detector's test of whether a read by
another thread at the line of a read-then-write's check is that check again.

A read-then-write whose read and write are in one function (``if self.x is None: self.x = make()``)
is one piece of code: another thread that reads at the check's line runs that code, and acts on what it
read as the first one did. A check made in a function of its own, a getter (``return self._status``),
is not: the getter's value is acted on by whoever called it, and every other caller reads at the same
line (``while ctx.alive: ...``, which only reads). The detector knows an access by its line only, so it
asks the source: the innermost ``def``, ``async def`` or ``lambda`` around each line.
"""

from __future__ import annotations

import ast
import linecache

#: filename -> the spans ``(first line, last line)`` of its functions, or None (no source to read)
_SPANS: dict[str, list[tuple[int, int]] | None] = {}
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _spans(filename: str) -> list[tuple[int, int]] | None:
    if filename not in _SPANS:
        source = "".join(linecache.getlines(filename))
        try:
            tree = ast.parse(source) if source else None
        except (SyntaxError, ValueError):
            tree = None
        _SPANS[filename] = None if tree is None else [
            (node.lineno, node.end_lineno or node.lineno) for node in ast.walk(tree) if isinstance(node, _FUNCTIONS)]
    return _SPANS[filename]


def _innermost(spans: list[tuple[int, int]], line: int) -> tuple[int, int] | None:
    """The span of the innermost function around ``line`` (nested spans lie inside their outer one),
    or None: the line is at a module's or a class's top level."""
    best = None
    for span in spans:
        if span[0] <= line <= span[1] and (best is None or span[0] >= best[0]):
            best = span
    return best


def same_function(a: tuple, b: tuple) -> bool:
    """Whether lines ``a`` and ``b`` (each ``(filename, lineno, ...)``) are in one function (or both
    at the top level of one file). When a file's source cannot be read, yes: the detector then keeps
    its prediction, as it did before it asked."""
    if a[0] != b[0]:
        return False
    spans = _spans(a[0])
    if spans is None:
        return True
    return _innermost(spans, a[1]) == _innermost(spans, b[1])
