"""A strategy written by the user runs outside the execution it schedules.

A strategy's methods run inside the scheduler, on the thread that holds the baton. interlace's own
strategies are never instrumented; a user's subclass usually is (it lives in a test file or a script,
which the import hook rewrites like the program). Its attribute reads were then the program's shared
accesses, each a scheduling point inside the scheduler: in ``thread_created``, between the moment a
new thread became runnable and the moment its OS thread was started, such a point could hand the baton
to that thread, and the starter, parked, never started it ("stuck outside interlace's control" after
the stuck timeout, in every execution); in ``choose`` it re-entered the scheduler.

So an execution wraps a strategy that is not interlace's own (:func:`unmanaged`): each hook the
scheduler calls runs with the fast path's ident cleared, which makes the calling thread, for the
duration of the call, a thread the execution does not manage (every hook, the native ones included,
passes its accesses through). interlace's own strategies are not wrapped: nothing changes on the hot
path of the default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: the strategy methods the runtime calls while an execution runs (the drivers call the others between
#: executions, when no execution is active)
HOOKS = ("thread_created", "choose", "quantum", "stayed", "hidden_sync")


def is_interlace_own(strategy: Any) -> bool:
    """Whether every class of ``strategy`` is interlace's (so that none of its code is instrumented)."""
    return all(cls.__module__ == "builtins" or cls.__module__.startswith("interlace.")
               for cls in type(strategy).__mro__)


def unmanaged(strategy: Any, execution: Any) -> Any:
    """``strategy`` itself if it is interlace's own, else a stand-in whose hooks run unmanaged."""
    return strategy if is_interlace_own(strategy) else Unmanaged(strategy, execution)


class Unmanaged:
    """Stands for a user's strategy in one execution: the hooks of :data:`HOOKS` that it has run with
    the execution's fast-path ident cleared (restored after, whatever the hook raised); every other
    attribute is the strategy's."""

    def __init__(self, strategy: Any, execution: Any) -> None:
        self.strategy = strategy
        for name in HOOKS:
            hook = getattr(strategy, name, None)
            if callable(hook):
                setattr(self, name, _outside(hook, execution))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.strategy, name)


def _outside(hook: Callable[..., Any], execution: Any) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        fast = execution.fast
        ident = fast.ident
        fast.ident = None  # Execution.me() answers None to the caller: its accesses are nobody's
        try:
            return hook(*args)
        finally:
            fast.ident = ident

    call.__name__ = getattr(hook, "__name__", "hook")
    return call
