"""Words for what the scheduler sees: deadlock cycles, spinning loops, thread stacks."""

from __future__ import annotations

import collections
import linecache
import os
import selectors
import sys
import threading
import traceback
from typing import Any

from .state import SLEEP, ThreadState

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def is_internal(filename: str) -> bool:
    """Frames of interlace itself, hidden from the stacks shown to users."""
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


_ASYNCIO_DIR = os.path.join(os.path.dirname(threading.__file__), "asyncio") + os.sep
_BOOTSTRAP = frozenset({"_bootstrap", "_bootstrap_inner", "run"})


def is_cell_key(obj: Any, key: Any) -> bool:
    """Whether an access to ``obj``/``key`` is one of a closure variable: the rewriter names it by a
    constant ``(filename, owner_lineno, owner_name, varname)`` (and ``"settled"``, a settled one's:
    instrument/rewriter.cell_key) and ``varname`` (see hooks._il_rc). A tuple of the program is only
    ever subscripted by an int or a slice."""
    return (type(obj) is tuple and type(key) is str and 4 <= len(obj) <= 5 and obj[3] == key
            and type(obj[0]) is str)



def user_stack(frame: Any) -> list[str]:
    """Formatted stack of ``frame`` (outermost first), from the thread's own code on.

    Drops what is above the thread's function (the caller of ``explore``, ``threading``'s bootstrap)
    and interlace's own frames.
    """
    entries = traceback.extract_stack(frame)
    for i in range(len(entries) - 1, -1, -1):
        if is_internal(entries[i].filename) and entries[i].name == "run" and entries[i].filename.endswith(
                "execution.py"):
            entries = entries[i + 1:]
            break
    entries = [e for e in entries if not is_internal(e.filename)]
    while entries and entries[0].filename == threading.__file__ and entries[0].name in _BOOTSTRAP:
        entries = entries[1:]
    return traceback.format_list(entries)


def stack_of(ex: Any, ts: Any) -> list[str]:
    if ts.task is not None:
        return task_stack(ts.task)
    frame = sys._current_frames().get(ts.ident) if ts.ident is not None else None
    if frame is None:
        return ["  (stack not available)\n"]
    return user_stack(frame)


_MULTIPROCESSING_DIR = os.path.join(os.path.dirname(threading.__file__), "multiprocessing") + os.sep
_PASSED_THROUGH = frozenset({selectors.__file__, threading.__file__})
_SEMLOCKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "semlocks.py")

#: (file in multiprocessing/, function) of the innermost frame -> what the thread waits for there
_MULTIPROCESSING_WAITS = {
    ("connection.py", "_recv"): "reading a pipe from another process (multiprocessing.connection.Connection)",
    ("connection.py", "_send"): "writing a pipe to another process (multiprocessing.connection.Connection)",
    ("connection.py", "wait"): "waiting on pipes or processes (multiprocessing.connection.wait)",
    ("synchronize.py", "__enter__"): "taking a process-shared lock (multiprocessing.synchronize.SemLock)",
    ("synchronize.py", "wait"): "waiting on a process-shared condition (multiprocessing.synchronize)",
    ("queues.py", "get"): "taking a process-shared lock of a multiprocessing queue (SemLock)",
    ("queues.py", "put"): "taking a process-shared lock of a multiprocessing queue (SemLock)",
    ("pool.py", "wait"): "waiting for a pool's answer (AsyncResult.get/wait, Pool.apply/map)",
    ("pool.py", "next"): "waiting for a pool's next answer (Pool.imap)",
    ("pool.py", "_help_stuff_finish"): "taking the lock of the pool's task queue, which an idle worker process "
                                       "holds (multiprocessing.synchronize.SemLock)",
}


def multiprocessing_wait(ex: Any, ts: Any) -> str | None:
    """A paragraph for a thread stuck inside ``multiprocessing``: the other end of what it waits for is
    another process (which no scheduler of this one orders) and the call runs outside the scheduler
    (runtime/outside.py), holding the baton; if that process waits in turn for a thread of this one
    (a ``multiprocessing.Queue`` between two threads, a pool task waiting for an event one of them sets),
    nothing can move. None when the thread is not there."""
    frame = sys._current_frames().get(ts.ident) if ts.ident is not None and ts.task is None else None
    semlock = False  # waiting in runtime/semlocks.py's stand-in for a SemLock's acquire
    while frame is not None and (is_internal(frame.f_code.co_filename)
                                 or frame.f_code.co_filename in _PASSED_THROUGH):
        semlock = semlock or frame.f_code.co_name == "_acquiring" and frame.f_code.co_filename == _SEMLOCKS
        frame = frame.f_back  # what multiprocessing called to block: interlace's stand-ins, selectors
    if semlock:
        key = ("synchronize.py", "__enter__")
    elif frame is None or not frame.f_code.co_filename.startswith(_MULTIPROCESSING_DIR):
        return None  # (code of the program below a multiprocessing frame is the program's)
    else:
        key = (frame.f_code.co_filename[len(_MULTIPROCESSING_DIR):], frame.f_code.co_name)
    what = _MULTIPROCESSING_WAITS.get(key) or f"in {key[1]}() of multiprocessing/{key[0]}"
    return (f"thread {ts.name!r} is blocked in multiprocessing, {what}: what it waits for comes from another "
            "process, and a call into multiprocessing runs outside the scheduler, holding the baton until that "
            "process answers, so no other thread of the execution runs meanwhile. If the other process waits "
            "for a thread of this one (a multiprocessing Queue or Pipe between threads of one process, a Lock "
            "or Event between them while a child process is alive, a pool task that waits for one of them), "
            "use queue.Queue / threading's primitives between threads, or make the pool outside the explored "
            "code (a fixture, a module-level pool); if it is only slow, raise the stuck timeout")


def task_stack(task: Any) -> list[str]:
    """Formatted stack of an asyncio task that is not running: its coroutine and those it awaits."""
    entries = []
    coro = task.get_coro()
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        if not is_internal(frame.f_code.co_filename) and not frame.f_code.co_filename.startswith(_ASYNCIO_DIR):
            entries.append(traceback.FrameSummary(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return traceback.format_list(entries) if entries else ["  (stack not available)\n"]


def waiting_on(ex: Any, ts: Any) -> str:
    """What ``ts`` is blocked on, in words."""
    from .locks import ControlledLock, ControlledRLock

    w = ts.waiting
    if isinstance(w, ThreadState):
        return f"task {w.name!r}" if w.task is not None else f"join of thread {w.name!r}"
    if ts.task is not None and w is ts.task:
        return "its event loop"
    if w is SLEEP:
        return "sleep"
    if isinstance(w, (ControlledLock, ControlledRLock)):
        holder = _holder(ex, w)
        if holder is None and w.label.startswith("Lock") and _in_condition_wait(ex, ts):
            return "a Condition (wait() with no matching notify)"
        return f"{w.label}" + (f" held by {holder.name!r}" if holder is not None else "")
    return str(w)


def _holder(ex: Any, lock: Any) -> Any:
    for t in ex.threads:
        if lock in t.held:
            return t
    return getattr(lock, "_owner", None)


def _in_condition_wait(ex: Any, ts: Any) -> bool:
    frame = sys._current_frames().get(ts.ident) if ts.ident is not None else None
    while frame is not None:
        if frame.f_code.co_name == "wait" and frame.f_code.co_filename.endswith("threading.py"):
            return True
        frame = frame.f_back
    return False


def describe_deadlock(ex: Any, blocked: list) -> tuple[str, list[str]]:
    """A one-line summary with the wait-for cycle, and one block of details per blocked thread."""
    names = ", ".join(repr(t.name) for t in blocked)
    cycle = _cycle(ex, blocked)
    if cycle:
        summary = "deadlock: " + " -> ".join(f"{t.name!r} waits for {waiting_on(ex, t)}" for t in cycle)
    else:
        every = "thread and task" if any(t.task is not None for t in blocked) else "thread"
        summary = f"deadlock: every live {every} is blocked ({names})"
    details = []
    for t in blocked:
        held = ", ".join(lock.label for lock in t.held) or "nothing"
        lines = [f"{'task' if t.task is not None else 'thread'} {t.name!r} waits for {waiting_on(ex, t)}; "
                 f"holds {held}\n"]
        lines += stack_of(ex, t)
        details.append("".join(lines))
    return summary, details


def _cycle(ex: Any, blocked: list) -> list:
    """Follow lock holders / joined threads from each blocked thread until one repeats."""
    def next_of(t: Any) -> Any:
        w = t.waiting
        if isinstance(w, ThreadState):
            return w
        return _holder(ex, w) if w is not None else None

    for start in blocked:
        seen: list = []
        t = start
        while t is not None and t not in seen:
            seen.append(t)
            t = next_of(t)
        if t is not None and t in seen:
            return seen[seen.index(t):]
    return []


def describe_livelock(ex: Any, ts: Any, no_progress: bool = False) -> tuple[str, list[str]]:
    """Why an execution is a possible livelock: no progress for ``ex.livelock_window`` points while
    several threads could run (``no_progress``), or more than the ``max_steps`` the user allowed."""
    recent = [e for e in ex.trace[-500:] if e.tid == ts.tid and e.site is not None]
    counts = collections.Counter((e.site[0], e.site[1]) for e in recent)
    details = []
    if no_progress:
        others = [t.name for t in ex.threads if t.status == "runnable" and t is not ts]
        waiting = [t.name for t in ex.threads if t.status not in ("runnable", "finished") and t is not ts]
        why = (f"possible livelock: {ex.livelock_window} scheduling points with no progress (no shared write, "
               "no synchronisation, no thread starting, blocking or ending) while "
               + (f"{', '.join(repr(n) for n in others)} could run too" if others else
                  f"{', '.join(repr(n) for n in waiting)} wait for what only it can do"))
    else:
        why = f"possible livelock: more than {ex.max_steps} steps (the max_steps limit)"
    if counts or ts.site:
        (filename, lineno), _n = counts.most_common(1)[0] if counts else ((ts.site[0], ts.site[1]), 0)
        source = linecache.getline(filename, lineno).strip()
        where = f"{os.path.basename(filename)}:{lineno}"
        summary = f"{why}; thread {ts.name!r} keeps running the loop at {where}: {source}"
    else:
        summary = f"{why}; in thread {ts.name!r}"
    details.append(f"thread {ts.name!r}:\n" + "".join(stack_of(ex, ts) if ts.ident else []))
    return summary, details
