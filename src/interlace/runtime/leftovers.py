"""Threads an earlier execution ended while they still ran, and that the program still keeps.

Every execution ends its managed threads with it (they unwind with ``Abort``): executions are
independent, each starts the program's threads afresh. An object that outlives the execution and keeps
the threads it started -- a thread pool made at import that starts its workers on first use (pebble's
``ThreadPool``), a module-level service with a lazily started loop thread -- then holds, in the next
execution, threads that are gone although, without interlace, they would still be running. The program
would see another world: ``is_alive()`` False (pebble's pool concludes it broke and raises "Unexpected
error within the Pool"), ``join()`` returning at once, work queued for workers that no longer exist (a
deadlock). ``concurrent.futures.ThreadPoolExecutor`` is given a state of its own per execution
(:mod:`.pools`), since what its state is is known; for a pool of another kind it is not.

So the execution ends threads that are still alive and notes them (weakly: a thread the program drops is
forgotten), and when a managed thread of a later execution asks whether one is alive or joins it, the
execution ends with a "leftover" failure that names the thread, the object that keeps it, and the fix
(make that object inside the explored function or a per-test fixture, or explore one execution). (Work
queued for such a pool's workers, which nothing asks about, waits for ever: a deadlock.) This is a
limitation stated where it happens, not a verdict about the program.
"""

from __future__ import annotations

import gc
import threading
import types
import weakref
from typing import Any

from .describe import stack_of
from .state import FINISHED, Failure

#: the threads earlier executions ended while they ran (and the program has not dropped) -> the
#: exploration (counted by :func:`exploration_starts`) whose execution started them
_ended: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_exploration = [0]


def exploration_starts() -> None:
    """The runtime is being installed for an exploration (an earlier test's threads are another's)."""
    _exploration[0] += 1


def execution_ends(ex: Any) -> None:
    """Called when ``ex`` ends, before its threads unwind: note its threads that are still running."""
    for ts in ex.threads[1:]:
        if ts.task is None and ts.status != FINISHED:
            _ended[ts.thread] = _exploration[0]


def kept(thread: threading.Thread) -> bool:
    """Whether ``thread`` is one an earlier execution ended while it ran."""
    return thread in _ended


def touched(ex: Any, me: Any, thread: threading.Thread, how: str) -> None:
    """A managed thread asks about (``how``: "is_alive()", "join()") a thread an earlier execution ended:
    end the execution with a "leftover" failure saying so (see the module's docstring)."""
    owner = keeper(thread)
    kept_by = f", kept by {owner[0]} (its {owner[1]})," if owner else ""
    ours = _ended.get(thread) == _exploration[0]
    message = (
        f"thread {thread.name!r} was started by "
        f"{'an earlier execution of this exploration' if ours else 'an execution of an earlier exploration'} "
        f"and ended with it, but the program still keeps it{kept_by} and calls its {how}: every execution "
        "ends the threads it started, so an object made before the exploration that starts threads on first "
        "use (a thread pool made at import) holds threads that are gone, where without interlace they would "
        f"still run. Make {'the ' + owner[0] if owner else 'that object'} inside the explored function (or "
        "in a per-test fixture)"
        + (", or explore one execution (--interlace-executions 1 / executions=1)" if ours else "")
        + "; this is interlace's limit, not a verdict about the program")
    ex.stop(me, Failure("leftover", message, thread=me.name,
                        details=[f"thread {me.name!r} is here:\n" + "".join(stack_of(ex, me))], step=ex.step))


def keeper(thread: threading.Thread) -> tuple[str, str] | None:
    """The class (``module.Class``) of the program's object that keeps ``thread`` and the attribute
    (directly, or a list, tuple, dict or set in it); None when none is found. Only on the failure path:
    ``gc.get_referrers`` walks the heap."""
    for ref in gc.get_referrers(thread):
        found = _owner_of(ref, thread)
        if found:
            return found
        if isinstance(ref, (list, tuple, set, frozenset)) or (isinstance(ref, dict) and thread in ref.values()):
            for outer in gc.get_referrers(ref):
                found = _owner_of(outer, ref)
                if found:
                    return found
    return None


def _owner_of(ref: Any, item: Any) -> tuple[str, str] | None:
    """``(module.Class, attribute)`` when ``ref`` is an instance of the program's (or its ``__dict__``) that
    keeps ``item`` in an attribute. (An instance whose attributes are stored inline refers to them itself.)"""
    if isinstance(ref, (types.FrameType, type, types.ModuleType)):
        return None
    if isinstance(ref, dict):
        owners = [o for o in gc.get_referrers(ref) if getattr(o, "__dict__", None) is ref
                  and not isinstance(o, (type, types.ModuleType))]
        if not owners:
            return None
        ref = owners[0]
    attrs = getattr(ref, "__dict__", None)
    if not isinstance(attrs, dict):
        return None
    name = next((k for k, v in attrs.items() if v is item), None)
    if not isinstance(name, str):
        return None
    cls = type(ref)
    return f"{cls.__module__}.{cls.__qualname__}", name
