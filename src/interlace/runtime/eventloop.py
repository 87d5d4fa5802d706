"""A controlled asyncio event loop: every task is a unit of the execution's scheduler.

An ``await`` is a switch point just like a thread switch, and the real loop runs ready callbacks in a
fixed (FIFO) order, so a bad task order may never happen in tests. Under an execution, the loop a
program creates (``asyncio.run``, ``new_event_loop``, ``get_event_loop``: the policy's loop factory is
patched) is :class:`ControlledLoop`:

- each task made by ``loop.create_task`` (``asyncio.create_task``, ``gather``, ``TaskGroup``,
  ``wait_for``, ``to_thread`` ...) gets a state of its own in the execution (:meth:`Execution.add_task`):
  its own tid, lane in the reports, vector clock and PCT priority; its steps run on the loop's OS
  thread. Ready callbacks that belong to no task (a future's done callback, a timer, a
  ``call_soon_threadsafe`` callback) are steps of the loop's thread itself;
- each turn of the loop runs *one* ready step, chosen by the strategy among the units with one that
  may run now and every runnable thread (:meth:`Execution.choose_unit`): tasks and threads share one
  scheduler. The steps keep asyncio's order (callbacks run in the order they were scheduled, which
  programs count on: two ``create_task`` then ``await asyncio.sleep(0)`` have both tasks started),
  except that a task's step after it yielded (``sleep(0)``) or after a timer woke it may run after
  steps queued behind it (:meth:`ControlledLoop._il_candidates`);
- ``loop.time()`` is the virtual clock (``time.monotonic`` is). A timer is due when the loop has
  nothing else to run: the loop then blocks *as a timed wait of the execution* (which the strategy
  may end early with respect to the threads, like a ``time.sleep``), and the clock jumps to the
  timer when nothing else can run. A loop that stays busy for ``TIMER_PATIENCE`` turns without
  progress (no write, nobody blocked or woken) while a timer is pending lets the clock reach it, so a
  task polling with ``sleep(0)`` for a timer's effect still ends; one busy with work lets the clock
  count it (``WORK_STEP`` per turn, as for a thread that polls the clock), and so does one without
  progress whose soonest timer is a hang guard, for up to ``GUARD_PATIENCE`` turns (a task's own
  work between yields shows no progress). A timeout of
  ``wait_for``/``wait``/``as_completed``/``asyncio.timeout`` of at least the execution's
  ``hang_guard`` is a hang guard (:func:`_guard_timer`): the idle wait for it ends only when nothing
  else can run;
- with no ready step and no timer the loop blocks on the execution until a managed thread calls
  ``call_soon_threadsafe`` (``run_in_executor``, ``to_thread`` end so): no real selector, no wall
  clock. When nothing can ever wake it, the execution reports a deadlock naming what each task
  awaits. A loop with real file descriptors registered (sockets, pipes) polls its selector, which
  ``runtime/blocking.py`` makes a virtual-time wait;
- happens-before: scheduling a callback (``call_soon``, ``call_at``, ``call_soon_threadsafe``,
  which every future completion, task creation and wake-up goes through) -> running it, told to the
  detectors as a signal/wait pair and to DPOR as a wake-up edge. ``asyncio.Lock``, ``Event``,
  ``Condition``, ``Semaphore`` and ``Queue`` are built on futures, so their edges are these.

Tasks are the pure-Python ``asyncio.tasks._PyTask`` (its callbacks name the task they belong to;
the C task's do not on every version), named ``Task-<n>`` with ``n`` counted per execution, so that
names do not depend on what ran before in the process.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

from . import handoffs, hooks
from .execution import WORK_STEP
from .state import Abort

#: turns of a busy loop after which its soonest pending timer is due (see the module docstring)
TIMER_PATIENCE = 1000
#: the same when that timer is a hang guard: a task that yields between steps of its own (local) work
#: shows no progress, and 3,000 such turns (milliseconds of real work) expired a 1 s ``wait_for`` another
#: task waited in; until then the clock counts the work, as for a loop busy with progress
GUARD_PATIENCE = 100 * TIMER_PATIENCE

_handle_numbers = itertools.count(1)
_real_factory: Any = None
_loop_class: Any = None


class LoopIdle:
    """What a loop's thread waits on when its loop has no ready step (reports show it)."""

    __slots__ = ("loop",)

    def __init__(self, loop: Any) -> None:
        self.loop = loop

    def __str__(self) -> str:
        tasks = sum(1 for ts in self.loop._il_units.values() if ts.status != "finished")
        return (f"the event loop ({tasks} task(s) pending, none ready, no timer): a call_soon_threadsafe "
                "from another thread")


class LoopBusy:
    """What a unit waits on while its loop runs another unit's step."""

    __slots__ = ()

    def __str__(self) -> str:
        return "its event loop (running another task's step)"


_BUSY = LoopBusy()


def _loop_base() -> Any:
    import asyncio

    return asyncio.SelectorEventLoop


def controlled_loop_class() -> type:
    """The class, made once (asyncio is imported only when a program uses it)."""
    global _loop_class
    if _loop_class is not None:
        return _loop_class
    from asyncio import tasks

    from .patching import MONOTONIC_BASE

    py_task = tasks._PyTask

    class ControlledLoop(_loop_base()):  # type: ignore[misc]
        """The event loop of an execution (see the module docstring)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._il_idle = LoopIdle(self)
            self._il_adopt(hooks._active)

        def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> Any:
            """Without ``asyncio.run``'s join timeout (300 s, 3.12+): it only guards against a hang, and a
            timed wait may end early under the scheduler, which would leave the executor's threads
            running; a thread that never ends is reported as a deadlock instead."""
            return super().shutdown_default_executor()

        def _il_adopt(self, ex: Any) -> None:
            """Serve execution ``ex`` (a loop can outlive the execution that made it: a fixture's)."""
            self._il_ex = ex
            self._il_units: dict[Any, Any] = {}  # task -> its ThreadState
            self._il_sent: dict[int, tuple[Any, tuple]] = {}  # id(handle) -> (handle, happens-before key)
            self._il_busy_turns = 0
            self._il_last: Any = None  # the unit that ran the previous step
            # id() -> (handle, by a timer) of the ready handles that may run later than their place in
            # the queue (see _il_candidates): a task's next step after it yielded to the loop
            # (``asyncio.sleep(0)``), and what a timer's firing scheduled, directly or through callbacks
            # of the loop's own (the wake-up of a task after ``asyncio.sleep(d)``); ``_il_timed``: such a
            # callback is running
            self._il_late: dict[int, Any] = {}
            self._il_timed = False
            # id() -> the pending timers that are hang guards (see _guard_timer). A timer leaves the heap
            # under control only through _il_due, which drops its entry: _run_once never lets the base
            # loop's bulk removal of cancelled timers (``_timer_cancelled_count`` large) run while it is
            # managed. The base loop may run it while no execution manages the loop (a fixture's loop
            # between executions, a thread interlace does not manage): an entry then outlives its timer,
            # and since it keeps the timer alive, its id is never another timer's.
            self._il_guards: dict[int, Any] = {}

        def _il_me(self) -> Any:
            """The caller's state, if it is the baton holder of the active execution."""
            ex = hooks._active
            if ex is None:
                return None
            me = ex.me()
            if me is not None and ex is not self._il_ex:
                self._il_adopt(ex)
            return me

        # -- tasks -----------------------------------------------------------------------------------

        def create_task(self, coro: Any, *, name: Any = None, context: Any = None, **kwargs: Any) -> Any:
            me = self._il_me()
            if me is None or self._task_factory is not None or kwargs:
                if context is not None:
                    kwargs["context"] = context
                return super().create_task(coro, name=name, **kwargs)
            self._check_closed()
            ex = self._il_ex
            ex.tasks_made += 1
            if name is None:
                name = f"Task-{ex.tasks_made}"
            if context is not None:
                kwargs["context"] = context
            if ex.record_trace:
                ex.note(me, "start", name, None)  # DPOR and the reports: the new unit's start
            task = py_task(coro, loop=self, name=name, **kwargs)
            if task._source_traceback:
                del task._source_traceback[-1]
            self._il_units[task] = ex.add_task(task, str(name), me.site)
            return task

        def _il_unit_of(self, handle: Any, me: Any) -> Any:
            owner = getattr(handle._callback, "__self__", None)
            ts = self._il_units.get(owner) if isinstance(owner, py_task) else None
            return me if ts is None else ts

        # -- happens-before: scheduling a callback -> running it -------------------------------------

        def _il_scheduled(self, handle: Any, me: Any) -> bool:
            """Tell the detectors and DPOR that ``me`` scheduled ``handle`` (the edge to its run); True
            when it is ``me``'s own next step (``sleep(0)``), which program order already orders."""
            if self._il_unit_of(handle, None) is me:
                return True
            ex = self._il_ex
            if not ex.access_observers and ex.hidden_sync is None:
                return False  # happens-before matters to the detectors of races (and to DPOR) only
            key = ("asyncio callback", next(_handle_numbers))
            self._il_sent[id(handle)] = (handle, key)
            if ex.access_observers:
                _sync(ex, "signal", me, key)
            if ex.hidden_sync is not None:
                ex.hidden_sync(ex, "release", me, handle)
            return False

        def _call_soon(self, callback: Any, args: Any, context: Any) -> Any:
            handle = super()._call_soon(callback, args, context)
            me = self._il_me()
            if me is not None:
                own = self._il_scheduled(handle, me)
                if self._il_timed:
                    self._il_late[id(handle)] = (handle, True)  # a timer's effect
                elif own:
                    self._il_late[id(handle)] = (handle, False)  # a task's own next step
            return handle

        def call_at(self, when: Any, callback: Any, *args: Any, context: Any = None) -> Any:
            timer = super().call_at(when, callback, *args, context=context)
            me = self._il_me()
            if me is not None:
                self._il_scheduled(timer, me)
                if _guard_timer(self._il_ex, callback, when - self._il_time()):
                    self._il_guards[id(timer)] = timer
            return timer

        def call_soon_threadsafe(self, callback: Any, *args: Any, context: Any = None) -> Any:
            handle = super().call_soon_threadsafe(callback, *args, context=context)
            if self._il_me() is not None:
                self._il_ex.wake_waiters(self._il_idle)  # the loop's thread, if it waits for this
            return handle

        def call_exception_handler(self, context: dict) -> None:
            ex = self._il_ex
            if isinstance(context.get("exception"), Abort) or ex is not None and ex.aborting:
                return  # the execution ended early (its tasks are left pending), not the program failing
            super().call_exception_handler(context)

        # -- one turn ----------------------------------------------------------------------------------

        def _run_once(self) -> None:
            me = self._il_me()
            if me is None:
                return super()._run_once()
            ex = self._il_ex
            self._il_due()
            real_io = len(self._selector.get_map()) > 1  # more than the loop's own self-pipe
            if real_io and self._ready:
                self._process_events(self._selector.select(0))
            if not self._ready:
                if not self._stopping:
                    self._il_wait(ex, me, real_io)
                return
            self._il_run_one(ex, me)
            if ex.aborting:
                raise Abort

        def _il_time(self) -> float:
            """The loop's own look at the virtual clock, at every turn: not the program polling it (a
            thread that reads a clock standing still again and again is busy-waiting, and the clock
            then counts its work, ``WORK_STEP`` per point: 0.5 ms per turn of a busy loop)."""
            ex = self._il_ex
            return MONOTONIC_BASE + ex.now if ex is not None and ex is hooks._active else self.time()

        def _il_due(self) -> None:
            """Move the timers that are due (on the virtual clock) to the ready queue."""
            scheduled = self._scheduled
            if not scheduled:
                return
            end = self._il_time() + self._clock_resolution
            while scheduled and (scheduled[0]._cancelled or scheduled[0]._when <= end):
                timer = heapq.heappop(scheduled)
                timer._scheduled = False
                self._il_guards.pop(id(timer), None)
                if timer._cancelled:
                    self._timer_cancelled_count -= 1
                else:
                    self._ready.append(timer)
                    self._il_busy_turns = 0

        def _il_wait(self, ex: Any, me: Any, real_io: bool) -> None:
            """Nothing is ready: wait for the soonest timer, or for another thread's callback."""
            timeout = None
            guard = False
            if self._scheduled:
                soonest = self._scheduled[0]
                timeout = max(0.0, soonest._when - self._il_time())
                guard = self._il_guards.get(id(soonest)) is soonest
            if real_io:
                self._process_events(self._selector.select(timeout))
                return
            for task, ts in self._il_units.items():
                if ts.status == "blocked":
                    ts.waiting = _awaited(self, task)
            # a hang guard's timer ends only when nothing else can run, like a thread's guarded wait
            ex.block(me, self._il_idle, timeout, early=not guard)

        def _il_run_one(self, ex: Any, me: Any) -> None:
            ready = self._ready
            if (ready[0]._cancelled if len(ready) == 1 else any(h._cancelled for h in ready)):
                for h in ready:
                    if h._cancelled:
                        self._il_late.pop(id(h), None)
                kept = [h for h in ready if not h._cancelled]
                ready.clear()
                ready.extend(kept)
                if not ready:
                    return
            first = self._il_candidates(ready, me)
            if self._scheduled:
                self._il_busy_turns += 1
                if self._il_busy_turns > TIMER_PATIENCE:
                    self._il_busy_turns = 0
                    soonest = self._scheduled[0]
                    idle = ex.fast.step - ex.fast.progress_at
                    if idle > TIMER_PATIENCE and (idle > GUARD_PATIENCE
                                                  or self._il_guards.get(id(soonest)) is not soonest):
                        # a loop that polls (no progress for as many points): its soonest timer is due
                        ex.advance_clock(soonest._when - self._il_time() + ex.now)
                    else:
                        # busy with real work: time passes as the work takes it (a timeout under
                        # which many steps run, or a periodic timer beside a long exchange of
                        # messages, is not due after a thousand of them)
                        ex.advance_clock(ex.now + TIMER_PATIENCE * WORK_STEP)
            if len(first) == 1 and me in first:
                ex.point(me, None, None)
                chosen = me
            else:
                units = [u for u in first if u is not me]
                chosen = ex.choose_unit(me, units, me in first, _BUSY, self._il_last)
            self._il_last = chosen
            handle = first[chosen]
            if ready[0] is handle:
                ready.popleft()  # (what remove() does for the first step, without the search)
            else:
                ready.remove(handle)
            late = self._il_late
            entry = late.pop(id(handle), None) if late else None
            timed = entry is not None and entry[0] is handle and entry[1]
            self._il_timed = isinstance(handle, asyncio.TimerHandle) or timed and chosen is me
            sent = self._il_sent.pop(id(handle), None)
            if sent is not None and sent[0] is handle:
                if ex.access_observers:
                    _sync(ex, "wait", chosen, sent[1])
                if ex.hidden_sync is not None:
                    ex.hidden_sync(ex, "woken", chosen, handle)
            try:
                handle._run()
            finally:
                self._il_timed = False
                if chosen is not me and not ex.aborting:
                    task = chosen.task
                    done = task.done()
                    if done:
                        if ex.observers:
                            handoffs.task_ended(task)
                        self._il_units.pop(task, None)
                    ex.end_unit(chosen, me, done)

        def _il_candidates(self, ready: Any, me: Any) -> dict[Any, Any]:
            """unit -> the ready step of it the strategy may choose. The real loop runs its callbacks in
            the order they were scheduled ("callbacks are called in the order in which they are
            registered"): programs count on it (``create_task`` twice, then ``await asyncio.sleep(0)``:
            both tasks have started; janus's tests). So the steps keep the queue's order, except that
            a task's step after it yielded to the loop (``asyncio.sleep(0)``) or after a timer woke it
            (``asyncio.sleep(d)``, a timeout) may run after steps queued behind it: such a wait stands
            for time the program does not control (a backend's reply, a delay), which could have been
            longer; what was queued behind it may run first. No step runs before one queued ahead of
            it that may not be delayed, each unit's steps keep their order, and the steps timers woke
            keep the order of the timers' deadlines (as a thread's timed waits end in that order: two
            tasks that each sleep 10 us between tries alternate, tenacity's tests count on it)."""
            if len(ready) == 1:  # (what the loop below gives for one step)
                handle = ready[0]
                return {self._il_unit_of(handle, me): handle}
            late = self._il_late
            first: dict[Any, Any] = {}
            seen: set[Any] = set()
            timer_seen = False
            for handle in ready:  # up to the first step that may not be delayed: none may pass it
                unit = self._il_unit_of(handle, me)
                entry = late.get(id(handle))
                kind = entry[1] if entry is not None and entry[0] is handle else None
                if unit not in seen and not (kind and timer_seen):
                    first[unit] = handle
                seen.add(unit)
                timer_seen = timer_seen or kind is True
                if kind is None:
                    break
            return first

    ControlledLoop.__name__ = ControlledLoop.__qualname__ = "ControlledLoop"
    _loop_class = ControlledLoop
    return ControlledLoop


#: the modules whose timers are timeouts of a wait for another task or thread (``wait_for``, ``wait``,
#: ``as_completed``, ``asyncio.timeout``); ``asyncio.sleep``'s timer (``asyncio.futures``) is a delay
_TIMEOUT_MODULES = ("asyncio.tasks", "asyncio.timeouts")


def _guard_timer(ex: Any, callback: Any, delay: float) -> bool:
    """Whether a timer of ``delay`` seconds calling ``callback`` is a hang guard of execution ``ex`` (see
    ``runtime.execution.HANG_GUARD``): the timeout of a wait for another unit, at least the guard long.
    Such a timer ends only when nothing else can run, as a thread's guarded wait does; a sleep's timer
    and a program's own ``call_later`` stay explorable, as a thread's sleep does."""
    guard = ex.hang_guard
    return (guard is not None and delay >= guard
            and getattr(callback, "__module__", None) in _TIMEOUT_MODULES)


def _sync(ex: Any, kind: str, me: Any, key: tuple) -> None:
    """A happens-before edge for the detectors; no progress (a loop's turn is not)."""
    edge = getattr(ex, "edge", None)
    if edge is not None:
        edge(ex, kind, me, key, True)  # the same, in C
        return
    progress = ex.fast.progress_at
    ex.synced(kind, me, key)
    ex.fast.progress_at = progress


def _awaited(loop: Any, task: Any) -> Any:
    """What ``task`` waits for, for a deadlock report: the state of the task it awaits, or words."""
    waiter = getattr(task, "_fut_waiter", None)
    ts = loop._il_units.get(waiter) if waiter is not None else None
    if ts is not None:
        return ts
    if waiter is None:
        return "its event loop"
    return f"a pending {type(waiter).__name__}"


def _factory(*args: Any, **kwargs: Any) -> Any:
    ex = hooks._active
    if ex is None or ex.me() is None:
        return _real_factory(*args, **kwargs)
    return controlled_loop_class()(*args, **kwargs)


def install(set_attr: Any) -> None:
    """Make the default policy's loop factory give a :class:`ControlledLoop` to managed threads
    (``set_attr(owner, name, value)`` records the original for the uninstall)."""
    global _real_factory
    import asyncio

    policy = asyncio.DefaultEventLoopPolicy
    if _real_factory is None:
        _real_factory = policy._loop_factory
    set_attr(policy, "_loop_factory", staticmethod(_factory))
