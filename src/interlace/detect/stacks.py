"""Cheap stacks of the code under test, captured at every access a detector may report later."""

from __future__ import annotations

import linecache
import os
import sys
import threading
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_THREADING = threading.__file__
_STOP = frozenset({"_bootstrap_inner", "_bootstrap"})

#: one frame: (filename, lineno, function name)
Frame = tuple


def capture(depth: int = 12) -> tuple[Frame, ...]:
    """The caller's stack, innermost last, without interlace's frames, up to ``depth`` frames.

    Stops at the thread's bootstrap or at interlace's execution driver, so a stack never shows the
    test runner that called ``explore``.
    """
    frames: list[Frame] = []
    f: Any = sys._getframe(1)
    while f is not None and len(frames) < depth:
        code = f.f_code
        filename = code.co_filename
        if filename.startswith(_PACKAGE_DIR):
            if code.co_name == "run" and filename.endswith("execution.py"):
                break
        elif filename == _THREADING and code.co_name in _STOP:
            break
        else:
            frames.append((filename, f.f_lineno, code.co_name))
        f = f.f_back
    frames.reverse()
    return tuple(frames)


def format_stack(frames: tuple[Frame, ...], indent: str = "    ") -> str:
    """Like a traceback: ``File "x.py", line 3, in f`` and the source line."""
    lines = []
    for filename, lineno, name in frames:
        if filename == _THREADING and name == "run":
            continue
        lines.append(f'{indent}File "{filename}", line {lineno}, in {name}')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"{indent}  {source}")
    return "\n".join(lines)
