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
_ASYNCIO_DIR = os.path.join(os.path.dirname(threading.__file__), "asyncio") + os.sep
#: where a step of an asyncio task or callback begins (a task's stack starts at its coroutine)
_ASYNCIO_STOP = frozenset({"_run", "__step", "__step_run_and_handle_result", "__wakeup"})

#: one frame: (filename, lineno, function name)
Frame = tuple


_USER, _SKIP, _STOP_HERE = 0, 1, 2
#: id(code object) -> (kind, filename, function name, the code object), so that a walk reads two
#: attributes per frame. Keyed by id, not by the code object: hashing a code object hashes its
#: bytecode (4x slower since 3.12, about 1.2 us), once per frame of every captured stack; the entry
#: keeps its code object alive, so the id cannot name another one.
_infos: dict[int, tuple[int, str, str, Any]] = {}
#: every stack captured, once: the accesses of many threads at one place share one tuple (the seed
#: article's 400 threads, or 100 threads reading one linked list, captured millions of equal stacks)
_stacks: dict[tuple, tuple] = {}


def _info(code: Any) -> tuple[int, str, str, Any]:
    filename = code.co_filename
    if filename.startswith(_PACKAGE_DIR):
        kind = _SKIP
    elif (filename == _THREADING and code.co_name in _STOP
          or filename.startswith(_ASYNCIO_DIR) and code.co_name in _ASYNCIO_STOP):
        kind = _STOP_HERE
    else:
        kind = _USER
    info = _infos[id(code)] = (kind, filename, code.co_name, code)
    return info


def capture(depth: int = 12) -> tuple[Frame, ...]:
    """The caller's stack, innermost last, without interlace's frames, up to ``depth`` frames.

    interlace's frames at the top (the hooks) are skipped; the walk stops at the next interlace
    frame below the code under test (the driver that runs it) or at a thread's bootstrap, so a
    stack never shows the test runner that called ``explore``.
    """
    frames: list[Frame] = []
    f: Any = sys._getframe(1)
    infos = _infos
    while f is not None:
        code = f.f_code
        info = infos.get(id(code))
        if info is None:
            info = _info(code)
        kind = info[0]
        if kind == _USER:
            frames.append((info[1], f.f_lineno, info[2]))
            if len(frames) == depth:
                break
        elif kind == _STOP_HERE or frames:
            break
        f = f.f_back
    frames.reverse()
    stack = tuple(frames)
    if len(_stacks) > 100_000:
        _stacks.clear()  # a bound for long-lived processes (a whole test suite under the plugin)
    return _stacks.setdefault(stack, stack)


def share_caches(native: Any) -> None:
    """Hand this module's caches to ``interlace._races``, whose ``capture`` (in C, for the race detector's
    accesses) then captures exactly what :func:`capture` does, into the same table of stacks."""
    native.setup_stacks(_infos, _stacks, _info)


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
