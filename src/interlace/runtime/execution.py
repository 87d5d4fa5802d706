"""One controlled execution: the scheduler core.

Every managed thread is a real OS thread, but exactly one of them holds the *baton* at a time. The
holder runs until it reaches a scheduling point (a shared access, a call into uninstrumented code, a
synchronisation operation, a loop back-edge); there it asks the strategy which enabled thread runs
next and, if that is another thread, hands the baton over and parks on its own gate.

The execution never decides who runs (the strategy does) and never interprets failures beyond
recording them: it is the mechanism, the rest of interlace is policy.
"""

from __future__ import annotations

import threading
from _thread import allocate_lock, get_ident
from bisect import insort
from functools import partial
from typing import Any

from . import hooks, leftovers, pools
from .calls import CallClassifier
from .describe import describe_deadlock, describe_livelock, is_cell_key, multiprocessing_wait, stack_of
from .fastpath import FastPath, native, plain_key
from .foreign import unmanaged
from .state import (
    BLOCKED,
    END_OF_MAIN,
    ENDED_TASK,
    FINISHED,
    OUTSIDE,
    RUNNABLE,
    Abort,
    Choices,
    Event,
    Failure,
    ThreadState,
    short_repr,
)

_NO_VALUE: Any = object()
READ = hooks.READ

#: the fast path takes at most this many scheduling points in a row without the slow path, so that the
#: slow path still looks at the world regularly (a thread back from outside, the livelock window)
BUDGET_CAP = 4096
#: free-threaded model: a thread that passes this many loop back-edges with no scheduling point gets
#: one, so that a loop computing on locals (or spinning on nothing shared) still lets others run
LOOP_POINT_EVERY = 1024
#: scheduling points without progress (a write, a synchronisation, a thread starting, blocking, waking
#: or ending) while several threads can run, before the execution is a possible livelock; loop
#: back-edges do not count, so the bound does not depend on how long the program computes
LIVELOCK_WINDOW = 1_000_000
#: a thread that alone can run (every other one has ended or is blocked) is computing, or busy-waiting on
#: the clock: the virtual clock moves ALONE_CLOCK_STEP seconds every ALONE_WINDOW of its steps, as real
#: time would, ending the timed waits it passes (a hang guard too: 10 s of spinning expire it). (A thread
#: that alone can run while others wait, blocked, for what only it can do is still a possible livelock
#: once it makes no progress for LIVELOCK_WINDOW points: the clock moving is no progress.)
ALONE_WINDOW = 100_000
ALONE_CLOCK_STEP = 0.5
#: code interlace does not instrument that polls the clock makes no scheduling point, so neither rule
#: above moves the clock for it: every CLOCK_READS_STILL reads with no point in between, the clock moves
#: CLOCK_POLL_STEP seconds (about the real time of as many reads), ending the timed waits it passes.
#: ``multiprocessing.connection.wait(timeout=0)`` loops until ``deadline - monotonic() < 0``: it never
#: ended on a clock that stood still (``multiprocessing.Pool``'s handler threads poll with it)
CLOCK_READS_STILL = 1000
CLOCK_POLL_STEP = 0.001
#: a thread that reads the clock POLL_READS times while it stands still is polling it (``while
#: time.time() - start < 30:`` with other threads at work, or sleeping a few nanoseconds): from then on
#: the clock counts the program's work, WORK_STEP virtual seconds per scheduling point of any thread
#: (threads take turns, as under a GIL), so the loop ends after 30 / WORK_STEP points in all, as it ends
#: on a real machine after as much work; on a clock that stood still it never did. A program that only
#: sleeps and reads the clock sees sleeps last exactly what they asked. The timed waits the clock passes
#: end (see advance_clock).
POLL_READS = 8
WORK_STEP = 10e-6
#: early wakes in a row that are free: past them, an early wake that skipped d virtual seconds while
#: other threads could run owes them d / WORK_STEP scheduling points (at most EARLY_DEBT_CAP) before the
#: strategy is offered another one. A real scheduler lets a sleeper wake before a runnable thread runs
#: now and then, not thousands of times in a row: 100 threads polling a file lock with sleep(0.05) woke
#: early at nearly every decision of PCT while the lock's holder waited (the clock jumped thousands of
#: seconds, 12.5 million points without the holder's release). EARLY_FREE keeps every order of a few
#: sleeps against the others' steps explorable (tests/test_dpor_crosscheck.py: a thread sleeps twice)
EARLY_FREE = 3
EARLY_DEBT_CAP = 100_000
#: a clock that moved less than this since a thread began reading it stands still for that thread (a
#: sleep of ``sys.float_info.min`` seconds moves it by as much, or not at all once it is past zero)
POLL_STILL = 1e-6
#: a program's timed wait for another thread (a lock, a join, an Event/Condition/Queue/Barrier wait) with
#: a timeout of at least this many seconds guards against a hang: no real machine lets it expire while
#: another thread can still run, so it ends only when none can (a sleep, and a shorter timeout, which
#: may be synchronisation, may end early). ``hang_guard=None``: every timed wait may end early
HANG_GUARD = 1.0
#: wall-clock seconds an interrupted execution's main thread has to come back (see Execution.interrupt):
#: a Ctrl-C or a test's timeout must end the test within seconds, and only a thread blocked in C takes
#: longer than a few milliseconds
INTERRUPT_PATIENCE = 0.5
#: virtual seconds: a timed wait whose deadline is this close to the one of the thread's last hang guard
#: is what is left of it (the stdlib computes the rest as ``endtime - monotonic()``: float rounding only)
GUARD_SAME_DEADLINE = 1e-6

_native = native()
#: the fast path's state: the native accelerator's C type when it is built, else the reference class
_FastPath = FastPath if _native is None else _native.FastPath


class Execution:
    """Runs one function under a strategy, with the baton passed between managed threads.

    ``model`` is ``"free-threaded"`` (a switch may happen at every shared access) or ``"gil"``
    (switches only at calls, loop back-edges and blocking operations, as CPython 3.10+ can).
    """

    reads_first = False  # an access is told first: it is the scheduling point where others may run
    #: ``edge(ex, kind, me, obj, keep_progress)``: :meth:`synced` in C (``interlace._speedups.edge``), for the
    #: hand-offs and an event loop's callback edges, set when the FastPath is the native one and
    #: ``synced`` is this class's (None: call :meth:`synced`)
    edge: Any = None
    #: each thread is added when it is started (detect-only mode's execution meets a thread started by code
    #: it does not see only at that thread's first access)
    controlled = True

    def __init__(self, strategy: Any, *, model: str = "free-threaded", max_steps: int | None = None,
                 classifier: CallClassifier | None = None, record_trace: bool = True,
                 epoch: float = 1_700_000_000.0, observers: tuple = (),
                 livelock_window: int | None = None, hang_guard: float | None = HANG_GUARD,
                 trace_limit: int | None = None) -> None:
        self.epoch = epoch
        self.hang_guard = hang_guard
        # a user's strategy (instrumented code) runs its hooks as a thread the execution does not manage
        self.strategy = strategy = unmanaged(strategy, self)
        # what the trace does not show (internal locks, wake-ups, thread ends), told to a strategy
        # that models it (DPOR) by the runtime: looked up once here, not at every lock operation
        self.hidden_sync = getattr(strategy, "hidden_sync", None)
        self.model = model
        self.free_threaded = model == "free-threaded"
        # an explicit bound on the whole execution's scheduling points (None: unbounded); a livelock
        # is judged by progress instead (see LIVELOCK_WINDOW)
        self.max_steps = max_steps
        self.step_limit = max_steps if max_steps is not None else float("inf")
        self.livelock_window = LIVELOCK_WINDOW if livelock_window is None else livelock_window
        # optional strategy hooks of the fast path (see Strategy.quantum), looked up once
        self._quantum = getattr(strategy, "quantum", None)
        self._stayed = getattr(strategy, "stayed", None)
        self.classifier = classifier or CallClassifier()
        self.record_trace = record_trace
        # the trace stops at this many events (None: it does not): a strategy that reads only the first
        # events (DPOR's horizon) is not asked at all in a stretch with one runnable thread, so it
        # cannot stop the trace itself there (a single-threaded test of 800,000 accesses kept them all)
        self.trace_limit = trace_limit if trace_limit is not None else float("inf")
        self.capture_values = False
        self.observers: list = list(observers)
        # the observers called at every shared access (the lock-order detector only watches locks)
        self.access_observers = [o for o in self.observers if getattr(o, "observes_accesses", True)]
        self._plan_calls()
        # the fast path's state (see runtime/fastpath.py). ``fast.told``: accesses already told to the
        # observers by the baton holder since the last switch or synchronisation: telling them again
        # cannot show anything new (FastTrack's same-epoch rule, applied before the observers are even
        # called)
        self.fast = _FastPath(self.free_threaded, record_trace, bool(self.access_observers), self.step_limit)
        if _native is not None and type(self).synced is Execution.synced:
            self.edge = _native.edge
        self.threads: list[ThreadState] = []
        self.by_thread: dict[threading.Thread, ThreadState] = {}
        self.by_ident: dict[int, ThreadState] = {}
        self.current: ThreadState | None = None
        self.now = 0.0
        self.choices = Choices()
        self.tasks_made = 0  # asyncio tasks made so far (they are named Task-<n> in that order)
        self.os_threads = 0  # the states of OS threads (the others are asyncio tasks' states)
        # at an event loop's choice of the next step: the unit that ran the step before, which the
        # strategies see as the running thread (choosing another one preempts it)
        self.unit_hint: ThreadState | None = None
        self.asked = 0  # decisions the strategy was asked (the others were taken by the fast path)
        #: (tid, virtual seconds skipped, site) of each timed wait the strategy ended while others could
        #: still run (see _advance_time): what a report must say for a failure that depends on it
        self.early_wakes: list[tuple[int, float, tuple | None]] = []
        self._early_owed = 0  # the step before which the last early wakes are not paid for (EARLY_FREE)
        self._early_streak = 0  # early wakes since the debt was last paid
        # the step at which the virtual clock last moved for a thread alone, or at which several could run
        self._alone_since = 0
        self._read_at = -1  # the step of the last clock read, and how many reads since at that step
        self._reads_still = 0
        self._worked_at = 0  # the step up to which the clock counted the work done (WORK_STEP)
        self._polls: dict[int, tuple[float, int, int, int]] = {}  # tid -> (clock, reads, first, last read's step)
        # the tids of the RUNNABLE threads, ascending, kept in step with every status change by
        # _runnable()/_not_runnable(), which also end the fast path's budget
        self.enabled: list[int] = []
        self.enabled_mask = 0  # the same set, bit t for thread t (recordings store it so)
        self.timed = 0  # threads blocked with a deadline (a sleep, a timeout): each may wake early
        self.trace: list[Event] = []
        self.failure: Failure | None = None
        self.aborting = False
        self.shadows: dict[int, Any] = {}
        self._mutex = allocate_lock()
        self._waiters: dict[int, dict[ThreadState, None]] = {}  # id(what) -> the threads blocked on it
        self._watch_step = -1
        self._watch_since = 0.0
        self._aborted_at: float | None = None  # wall clock, seen by the watchdog
        # seconds the watchdog waits for an aborted execution's main thread before interrupting its
        # blocking call (an interrupt's: the stuck timeout otherwise)
        self._unwind_patience: float | None = None
        self.unblock_main = False  # the watchdog sent SIGINT to a main thread blocked in C: raise Abort

    # -- identity ------------------------------------------------------------------------------------

    @property
    def step(self) -> int:
        """Scheduling points (and loop back-edges) so far."""
        return self.fast.step

    @property
    def current_ident(self) -> int | None:
        return self.fast.ident

    def _hold(self, ts: ThreadState | None) -> None:
        """Give the baton to ``ts`` (None: nobody), keeping ``current`` and the fast path's ident in step."""
        held = self.current
        fast = self.fast
        if held is not None:
            held.gil_points += fast.gil_points
            held.accesses += fast.accesses
            held.back_edges += fast.back_edges
        fast.gil_points = fast.accesses = fast.back_edges = fast.handed = 0
        self.current = ts
        self.fast.ident = ts.ident if ts is not None else None

    def me(self) -> ThreadState | None:
        """The calling thread's state if it is the managed thread holding the baton."""
        ident = get_ident()
        if ident == self.current_ident:
            return self.current
        ts = self.by_ident.get(ident)
        if ts is None:
            return None
        if self.aborting:
            raise Abort
        return None

    # -- the watchdog: reports only, never a scheduling decision ---------------------------------------

    def watch(self, now: float, stuck_after: float) -> None:
        """Called periodically by the watchdog thread with the wall-clock time.

        If no scheduling point has been reached for ``stuck_after`` seconds, the baton holder is
        blocked (or computing) in code interlace cannot see and every other thread waits for it: end
        the execution with a "stuck" failure that shows where it is. Nothing else depends on the
        clock: a thread that is merely slow keeps the baton, and the others do what they would do
        on an idle machine.
        """
        if self.aborting:
            self._watch_unwinding(now, stuck_after)
            return
        if self.step != self._watch_step:
            self._watch_step = self.step
            self._watch_since = now
            return
        if now - self._watch_since >= stuck_after:
            self._stuck(stuck_after)

    def _watch_unwinding(self, now: float, stuck_after: float) -> None:
        """The execution ended but its main thread has not come back for ``stuck_after`` seconds: it is
        blocked in C while unwinding (a ``finally`` or ``__exit__`` waiting for a lock an abandoned
        thread holds). Interrupt its blocking call, again every ``stuck_after`` seconds."""
        main = self.threads[0] if self.threads else None
        if main is None or main.status == FINISHED or main.ident != threading.main_thread().ident:
            return
        if self._unwind_patience is not None:
            stuck_after = min(stuck_after, self._unwind_patience)
        if self._aborted_at is None:
            self._aborted_at = now
        elif now - self._aborted_at >= stuck_after:
            from .watchdog import interrupt_main_thread

            self._aborted_at = now
            self.unblock_main = True
            interrupt_main_thread(main.ident)

    def keepalive(self) -> None:
        """The baton holder is waiting on purpose (a terminal read of ``interlace run``): the
        watchdog must not report it stuck."""
        self._watch_step = -1

    def stop(self, me: ThreadState, failure: Failure) -> None:
        """End the execution now from the baton holder, with ``failure`` (e.g. a replay diverged)."""
        if self.failure is None:
            self.failure = failure
        self._abort_from(me)
        raise Abort

    def interrupt(self, by: str = "the user (Ctrl-C)") -> None:
        """Ctrl-C, or a deferred signal (from the watchdog thread): end the execution as "interrupted";
        every managed thread unwinds with Abort at its next scheduling point. A main thread that does
        not come back within INTERRUPT_PATIENCE seconds (blocked in C: a ``select``, a ``recv``) has its
        call interrupted, as for a stuck execution."""
        with self._mutex:
            if self.aborting:
                return
            self.failure = Failure("interrupted", f"interrupted by {by}", step=self.step)
            self._unwind_patience = INTERRUPT_PATIENCE
            self.aborting = True
            self._hold(None)
            for ts in self.threads:
                if ts.status != FINISHED:
                    _release(ts.gate)

    def _stuck(self, idle: float) -> None:
        """End the execution: the baton holder reached no scheduling point for ``idle`` seconds (the
        stuck timeout, not the time measured, so that the message is the same on every machine) while
        other threads of the execution are alive. A thread alone is never stuck: what it does can change
        nothing another thread waits for, and how long it computes depends on the machine's load."""
        with self._mutex:
            t = self.current
            if self.aborting or t is None:
                return
            if all(o is t or o.status == FINISHED for o in self.threads):
                return  # nobody waits for it: a slow computation alone, as it would run without interlace
            self.failure = Failure(
                "stuck",
                multiprocessing_wait(self, t) or
                f"thread {t.name!r} is stuck outside interlace's control: it has not reached a scheduling "
                f"point for {idle:g}s, blocked (or computing) in code the scheduler cannot see (a socket, "
                "a pipe, a subprocess, a C extension, a lock created by uninstrumented code); the other "
                "threads wait for it (raise the stuck timeout if it is only slow)",
                thread=t.name,
                details=[f"thread {t.name!r} is here:\n" + "".join(stack_of(self, t))],
                step=self.step,
            )
            self.aborting = True
            t.status = OUTSIDE  # abandoned if it never returns (see _join_os_threads)
            self._hold(None)
            for ts in self.threads:
                if ts.status not in (FINISHED, OUTSIDE):
                    _release(ts.gate)
        if t.ident == threading.main_thread().ident:
            from .watchdog import interrupt_main_thread

            self.unblock_main = True
            interrupt_main_thread(t.ident)  # interrupts the blocking call (EINTR)

    def name_of(self, tid: int) -> str:
        return self.threads[tid].name

    # -- lifecycle -----------------------------------------------------------------------------------

    def run(self, fn: Any) -> None:
        """Run ``fn`` as the main managed thread on the calling OS thread, then end the execution."""
        main = self._add_thread(threading.current_thread())
        main.ident = get_ident()
        self.by_ident[main.ident] = main
        self._hold(main)
        hooks.set_active(self)
        try:
            try:
                fn()
            except Abort:
                pass
            except BaseException as exc:  # noqa: BLE001 - the user's failure, reported as such
                if not self.aborting:
                    self.fail_exception(main, exc)
            else:
                if not self.aborting:
                    self._wait_for_others(main)
            finally:
                self.settle()
                self._not_runnable(main, FINISHED)
                leftovers.execution_ends(self)
                self._abort_all()
                self._join_os_threads()
                pools.end_of_execution()
        finally:
            hooks.set_active(None)

    def _wait_for_others(self, main: ThreadState) -> None:
        """Like interpreter shutdown: wait until every non-daemon thread has finished."""
        try:
            if self._non_daemon_alive(main):
                self._not_runnable(main, BLOCKED)
                main.waiting = END_OF_MAIN
                self._schedule(main)
        except Abort:
            pass

    def _non_daemon_alive(self, main: ThreadState) -> bool:
        return any(t is not main and t.status != FINISHED and not t.daemon for t in self.threads)

    def _add_thread(self, thread: threading.Thread) -> ThreadState:
        ts = ThreadState(len(self.threads), thread)
        self.threads.append(ts)
        self.os_threads += 1
        self.by_thread[thread] = ts
        self.enabled.append(ts.tid)  # the highest tid so far: the list stays ascending
        self.enabled_mask |= 1 << ts.tid
        self._changed()
        on_created = getattr(self.strategy, "thread_created", None)
        if on_created is not None:
            on_created(ts.tid)
        return ts

    def spawn(self, thread: threading.Thread, start_os_thread: Any) -> None:
        """Start ``thread`` as a managed thread. ``start_os_thread(boot)`` starts the real OS thread."""
        me = self.me()
        try:
            self.point(me, "start", thread.name)
        except BaseException:  # Abort: Thread.start() takes the thread out of _limbo after an Exception only
            _unregister(thread, None)
            raise
        ts = self._add_thread(thread)
        if me is not None:
            ts.site = me.site
            if self.observers:
                self.synced("start", me, ts)

        def boot(bootstrap: Any) -> None:
            ts.gate.acquire()
            ident = get_ident()
            ts.ident = ident
            with self._mutex:
                self.by_ident[ident] = ts
            self.fast.ident = ident
            try:
                if self.aborting:
                    return
                try:
                    bootstrap()
                except BaseException:
                    # unwinding an aborted execution can interrupt threading's own bookkeeping
                    # (a KeyError from _delete when the thread had not registered yet): not news
                    if not self.aborting:
                        raise
            finally:
                _unregister(thread, ident)
                self._thread_finished(ts)
                ts.exited.release()

        start_os_thread(boot)

    # -- asyncio tasks: units with no OS thread of their own (see runtime/eventloop.py) -----------------

    def add_task(self, task: Any, name: str, site: tuple | None = None) -> ThreadState:
        """A state for an asyncio task: a unit the strategy chooses like a thread (its own tid, lane and
        vector clock), whose steps run on its event loop's thread. It can run only when that loop
        offers it (:meth:`choose_unit`); in between it is BLOCKED on what its task awaits. ``site``:
        where its maker was, its place until it runs a line of the program (a task of
        ``asyncio.to_thread`` runs the standard library only: the thread it starts was started there)."""
        ts = ThreadState(len(self.threads), _TaskIdentity(name))
        ts.site = site
        ts.task = task
        ts.status = BLOCKED
        ts.waiting = task
        self.threads.append(ts)
        self._changed()
        on_created = getattr(self.strategy, "thread_created", None)
        if on_created is not None:
            on_created(ts.tid)
        return ts

    def choose_unit(self, me: ThreadState, units: list[ThreadState], me_too: bool, busy: Any,
                    last: ThreadState | None = None) -> ThreadState:
        """The event loop that ``me`` (the baton holder) runs has a step of each of ``units`` ready (and
        one of its own bare callbacks if ``me_too``): a scheduling point where those units and every
        runnable thread are the choices. Returns the unit chosen to run its step, which then holds the
        baton on ``me``'s OS thread; the others wait for the loop (BLOCKED on ``busy``). ``last``: the
        unit that ran the loop's previous step, the one that choosing another preempts."""
        fast = self.fast
        progress = fast.progress_at  # offering the ready units is no progress (a sleep(0) spin is not)
        if (len(units) == 1 and not me_too and self.enabled == [me.tid] and not self.timed
                and fast.step < self.step_limit):
            # one task ready and nothing else can run: no decision, the baton passes on this OS thread
            u = units[0]
            u.gate, u.ident, u.waiting, u.pending, u.pending_what = me.gate, me.ident, None, None, u.name
            self._swap(me, BLOCKED, u)  # (_offer(u, me) then _wait_for_loop(me, busy), in one)
            me.waiting = busy
            fast.progress_at = progress
            fast.step += 1
            fast.loops = 0
            fast.told.clear()
            u.run_length = 0
            self._hold(u)
            # its first point would be one with u the only unit that can run: the C path may make it (see
            # FastPath.handed) up to the step where _schedule would stop at the step bound or check for a
            # thread alone (ALONE_WINDOW)
            handed = self._alone_since + ALONE_WINDOW
            fast.handed = handed if handed <= self.step_limit else int(self.step_limit)
            return u
        for u in units:
            self._offer(u, me)
        if not me_too:
            self._wait_for_loop(me, busy)
        fast.progress_at = progress
        fast.step += 1
        fast.loops = 0
        me.pending = None
        self.unit_hint = last
        try:
            self._schedule(me)
        finally:
            self.unit_hint = None
        chosen = self.current
        for u in units:
            if u is not chosen:
                self._wait_for_loop(u, busy)
        if chosen is not me and me.status == RUNNABLE:
            self._wait_for_loop(me, busy)
        return chosen

    def _offer(self, unit: ThreadState, me: ThreadState) -> None:
        """``unit``'s step is ready on the loop ``me`` runs: it can be chosen, and runs on ``me``'s OS
        thread (parking on its gate whichever unit is chosen); what the step does is known once it ran."""
        unit.gate, unit.ident, unit.waiting, unit.pending, unit.pending_what = me.gate, me.ident, None, None, unit.name
        self._runnable(unit)

    def _wait_for_loop(self, ts: ThreadState, busy: Any) -> None:
        """``ts`` (a unit, or the loop's thread) waits while its loop runs another unit's step."""
        self._not_runnable(ts, BLOCKED)
        ts.waiting = busy

    def end_unit(self, unit: ThreadState, me: ThreadState, finished: bool) -> None:
        """The step of ``unit`` on the event loop of ``me`` returned: ``me`` holds the baton again (the
        same OS thread: no hand-off), ``unit`` waits for its next step or has ended."""
        progress = self.fast.progress_at
        if me.status != RUNNABLE and self.enabled == [unit.tid]:
            self._swap(unit, FINISHED if finished else BLOCKED, me)  # the usual case, in one change
        else:
            self._not_runnable(unit, FINISHED if finished else BLOCKED)
            self._runnable(me)
        if finished:
            unit.task = unit.waiting = ENDED_TASK  # (see state.ENDED_TASK)
        else:
            unit.waiting = unit.task
        me.waiting = None
        self.fast.told.clear()
        self._hold(me)
        if not finished:
            self.fast.progress_at = progress

    def advance_clock(self, when: float) -> None:
        """Virtual time passes up to ``when`` (an event loop that stayed busy long enough for its
        soonest timer to be due), ending the timed waits it passes."""
        if when > self.now:
            self.now = when
        for t in self.threads:
            if t.status == BLOCKED and t.deadline is not None and t.deadline <= self.now:
                t.timed_out = True
                self.wake(t)

    def _thread_finished(self, ts: ThreadState) -> None:
        with self._mutex:
            self._not_runnable(ts, FINISHED)
            aborting = self.aborting
        if aborting:
            return
        if self.hidden_sync is not None:
            self.hidden_sync(self, "finish", ts, ts)  # what another thread's is_alive() reads
        if self.observers:
            self.synced("finish", ts, None)
        self.wake_waiters(ts)
        main = self.threads[0]
        if main.waiting is END_OF_MAIN and main.status == BLOCKED and not self._non_daemon_alive(main):
            self.wake(main)
        try:
            self._schedule(ts, finishing=True)
        except Abort:
            pass

    def _abort_all(self) -> None:
        with self._mutex:
            self.aborting = True
            self.fast.ident = None
            for ts in self.threads:
                if ts.status != FINISHED and ts.ident != get_ident():
                    _release(ts.gate)

    def _join_os_threads(self, timeout: float = 10.0) -> None:
        from .watchdog import abandon

        for ts in self.threads[1:]:
            if ts.task is not None:
                continue  # an asyncio task: no OS thread of its own
            if ts.status == OUTSIDE:  # stuck in C: it unwinds if it ever returns; never waited for
                if not ts.exited.acquire(True, 0.2):
                    abandon(ts.ident)
                continue
            if not ts.exited.acquire(True, timeout):
                if self.failure is None:
                    self.failure = Failure(
                        "stuck",
                        f"thread {ts.name!r} did not stop within {timeout:g}s after the execution ended",
                        thread=ts.name,
                        details=[f"thread {ts.name!r}:\n" + "".join(stack_of(self, ts))],
                    )
                abandon(ts.ident)
                timeout = 0.1

    # -- scheduling ----------------------------------------------------------------------------------

    def point(self, me: ThreadState | None, kind: str | None, what: Any, site: tuple | None = None,
              value: str | None = None) -> None:
        """A scheduling point reached by ``me`` (the baton holder) just before it does ``kind``.

        Other threads may run first; the event is recorded when ``me`` proceeds, so the trace is in
        the order the operations really happened. ``kind`` None records nothing.

        The fast path: while the budget lasts (nothing changed who can run, and the strategy said it
        would keep ``me`` running), the point is a counter update.
        """
        if me is None:
            return
        if site is None:
            site = me.site
        else:
            me.site = site
        fast = self.fast
        fast.step += 1
        fast.loops = 0
        me.pending = kind
        me.pending_what = what
        if fast.budget:
            fast.budget -= 1
        else:
            self._schedule(me)
        if kind is not None and self.record_trace:
            trace = self.trace
            trace.append(Event(len(trace) + 1, me.tid, kind, what if isinstance(what, str) else str(what), site, value))
            if len(trace) >= self.trace_limit:
                self.stop_tracing()

    def note(self, me: ThreadState, kind: str, what: Any, site: tuple | None, value: str | None = None) -> None:
        """Record an event that is not a scheduling point in this model (GIL model accesses)."""
        if site is not None:
            me.site = site
        if self.record_trace:
            trace = self.trace
            trace.append(Event(len(trace) + 1, me.tid, kind, what if isinstance(what, str) else str(what),
                               site or me.site, value))
            if len(trace) >= self.trace_limit:
                self.stop_tracing()

    def _schedule(self, me: ThreadState, finishing: bool = False) -> None:
        fast = self.fast
        if fast.granted:
            self._end_budget(me)
        if fast.step > self.step_limit:
            self._livelock(me)
        threads = self.threads
        enabled = self.enabled
        while not enabled:
            if self._unstick(me, finishing):
                return
        if (self.timed and (self._early_streak < EARLY_FREE or fast.step >= self._early_owed)
                and not any(t.io_deadline is not None for t in threads)):
            # the sleeper (or timed wait) with the soonest deadline may wake before the others progress
            # further: the strategy decides (timed waits still end in the order of their deadlines)
            # (not while a thread waits in a blocking call: its timeout is kept by runtime/blocking.py, and
            # time moves for it only when no other thread can run)
            soonest = min(t.deadline for t in threads if t.deadline is not None and t.status == BLOCKED)
            enabled = [t.tid for t in threads if t.status == RUNNABLE or t.early and t.deadline == soonest]
        if len(enabled) == 1:
            nxt = threads[enabled[0]]
            if nxt is me:
                if fast.step - self._alone_since > ALONE_WINDOW:
                    ended = all(t is me or t.status == FINISHED for t in threads)
                    if self._clock_alone(me) and len(self.enabled) > 1:
                        self._schedule(me)  # the clock passed a timed wait's deadline: that thread can run
                        return
                    if not ended and fast.step - fast.progress_at > self.livelock_window:
                        self._livelock(me, no_progress=True)
                me.run_length += 1
                self._grant(BUDGET_CAP, False)
                return
        else:
            self._alone_since = fast.step
            if fast.step - fast.progress_at > self.livelock_window:
                self._livelock(me, no_progress=True)
            cur = me.tid if me.status == RUNNABLE else None
            if cur is None and self.unit_hint is not None and self.unit_hint.status == RUNNABLE:
                cur = self.unit_hint.tid
            self.asked += 1
            tid = self.strategy.choose(list(enabled), cur, self)
            if tid < 0:
                self._stopped(me)
            nxt = threads[tid]
            self.choices.append(tid)
            if nxt.deadline is not None:
                if nxt.deadline > self.now:
                    self._woke_early(nxt)
                self._advance_time(nxt)  # the strategy ends its sleep (or timeout) now
            elif self._quantum is not None:
                quantum = self._quantum(enabled, tid, self)
                if quantum > 0:
                    self._grant(quantum, True)
        if nxt is me:
            me.run_length += 1
            return
        fast.told.clear()
        if nxt is self.unit_hint:
            nxt.run_length += 1  # a task chosen again by its loop: it goes on running (spin limits count it)
        else:
            nxt.run_length = 0
        self._hold(nxt)
        nxt.gate.release()
        if finishing:
            return
        me.gate.acquire()
        if self.aborting:
            raise Abort

    def _woke_early(self, ts: ThreadState) -> None:
        """Note that the strategy ended ``ts``'s timed wait while others could run, and what it owes
        them (EARLY_FREE)."""
        skipped = ts.deadline - self.now
        self.early_wakes.append((ts.tid, skipped, ts.site))
        step = self.fast.step
        if step >= self._early_owed:
            self._early_streak = 0
            self._early_owed = step
        self._early_streak += 1
        self._early_owed += min(int(skipped / WORK_STEP), EARLY_DEBT_CAP)

    def _grant(self, points: int, decides: bool) -> None:
        """Let the next ``points`` scheduling points pass without the slow path (see point())."""
        fast = self.fast
        left = self.step_limit - fast.step
        fast.budget = fast.granted = int(min(points, BUDGET_CAP, max(left, 0)))
        fast.handed = 0
        fast.decides = decides

    def clock(self, me: ThreadState) -> float:
        """The virtual time ``me`` reads. A thread that polls it sees the work done since (see
        POLL_READS); a thread alone moves it as it computes (see ALONE_WINDOW), a rule the scheduler also
        applies when it is asked, every BUDGET_CAP points of a thread alone, which for a loop that only
        reads the clock is millions of steps: a one-second busy-wait took 30 s."""
        step = self.fast.step
        polled = self._polls.get(me.tid)
        if polled is None or self.now - polled[0] >= POLL_STILL:
            self._polls[me.tid] = (self.now, 1, step, step)
        elif polled[3] == step:
            # reads with no scheduling point between them are one look: ``asyncio.timeout(1)`` reads the
            # clock for its deadline and again before making its timer, which a clock moved in between
            # made shorter than the hang guard (an explorable timer ended early)
            pass
        elif polled[1] + 1 < POLL_READS:
            self._polls[me.tid] = (polled[0], polled[1] + 1, polled[2], step)
        else:
            worked = step - max(polled[2], self._worked_at)
            if worked > 0:
                self._worked_at = step
                self.advance_clock(self.now + worked * WORK_STEP)
            self._polls[me.tid] = (self.now, 1, step, step)
        if step - self._alone_since > ALONE_WINDOW:
            self._clock_alone(me)
        elif step != self._read_at:
            self._read_at, self._reads_still = step, 0
        else:
            # reads with no scheduling point in between: uninstrumented code polls the clock (the stdlib's
            # ``multiprocessing.connection.wait(timeout=0)`` loops until ``deadline - monotonic() < 0``)
            self._reads_still += 1
            if self._reads_still >= CLOCK_READS_STILL:
                self._reads_still = 0
                self.advance_clock(self.now + CLOCK_POLL_STEP)
        return self.now

    def _clock_alone(self, me: ThreadState) -> bool:
        """``me`` ran ALONE_WINDOW steps since the clock last moved for it (or since another thread could
        run): if it alone can run (every other thread ended or is blocked, and no sleep or short timeout
        is pending, whose end the strategy decides), the clock moves ALONE_CLOCK_STEP, as real time
        would while it computes, and the timed waits it passes end (a hang guard's too: a thread waiting
        10 s for a spinner that spins 0.5 s sees it finish; one that spins 20 s expires it)."""
        if self.timed or self.enabled != [me.tid] or any(
                t.status != FINISHED and t.status != BLOCKED for t in self.threads if t is not me):
            return False
        self.advance_clock(self.now + ALONE_CLOCK_STEP)
        self._alone_since = self.fast.step
        return True

    def stop_tracing(self) -> None:
        """Record no more events: the strategy that needed the trace is done with it (DPOR past its
        horizon), so a long execution's memory stops growing with its length."""
        self.record_trace = False
        self.fast.trace = False

    def settle(self) -> None:
        """Account now for the points the fast path took: the process may end before the next slow point
        (``os._exit`` in a recorded run writes its recording's end first, stays included). Called by the
        thread that holds the baton."""
        self._end_budget(self.current)

    def _end_budget(self, holder: ThreadState | None) -> None:
        """Account for the points the fast path took: the holder's run length, and for decisions,
        the choices and the strategy (stayed())."""
        fast = self.fast
        taken = fast.granted - fast.budget
        fast.budget = fast.granted = fast.handed = 0
        if taken:
            if holder is not None:
                holder.run_length += taken
            if fast.decides:
                self.choices.stay(taken)
                if self._stayed is not None:
                    self._stayed(taken)

    def _runnable(self, ts: ThreadState) -> None:
        if ts.status != RUNNABLE:
            ts.status = RUNNABLE
            insort(self.enabled, ts.tid)
            self.enabled_mask |= 1 << ts.tid
        self._changed()

    def _not_runnable(self, ts: ThreadState, status: str) -> None:
        if ts.status == RUNNABLE:
            self.enabled.remove(ts.tid)
            self.enabled_mask &= ~(1 << ts.tid)
        ts.status = status
        self._changed()

    def _swap(self, out: ThreadState, status: str, into: ThreadState) -> None:
        """``out``, the only runnable unit, stops (``status``) and ``into``, not runnable, becomes the
        only one: :meth:`_not_runnable` and :meth:`_runnable` in one change (an event loop's turn hands
        the baton so twice), with the same result."""
        out.status = status
        into.status = RUNNABLE
        self.enabled[0] = into.tid
        self.enabled_mask = 1 << into.tid
        self._changed()

    def _changed(self) -> None:
        """Who can run changed: that is progress, and it ends the fast path's budget."""
        fast = self.fast
        if fast.granted:
            self._end_budget(self.current)
        fast.handed = 0
        fast.progress_at = fast.step

    def _unstick(self, me: ThreadState, finishing: bool) -> bool:
        """No thread can run: let virtual time pass, end the main thread's wait, wait for a thread
        that is outside, or report a deadlock. Returns True if ``me`` was parked and now runs."""
        if self._advance_time():
            return False
        if any(t.status == OUTSIDE for t in self.threads):
            with self._mutex:
                self._hold(None)
            if finishing:
                return True
            me.gate.acquire()
            if self.aborting:
                raise Abort
            return True
        main = self.threads[0]
        if main.status == BLOCKED and main.waiting is END_OF_MAIN:
            self.wake(main)
            return False
        self._deadlock(me)
        return False

    def _advance_time(self, early: ThreadState | None = None) -> bool:
        """Jump the virtual clock to the next deadline and wake whoever waits for it; or, when the
        strategy chose the blocked thread ``early`` (one with the soonest deadline), to its deadline: no
        real scheduler promises that a sleeper wakes only once every other thread that can run has run,
        so the strategy decides when a sleep or a timeout ends (in virtual seconds it always lasts what
        it asked)."""
        pending = [t for t in self.threads if t.status == BLOCKED and t.deadline is not None]
        if not pending:
            return False
        when = min(t.deadline for t in pending) if early is None else early.deadline
        if when > self.now:
            self.now = when
        for t in pending:
            if t.deadline <= self.now:
                t.timed_out = True
                self.wake(t)
        return True

    def block(self, me: ThreadState, waiting: Any, timeout: float | None = None, early: bool = True,
              guard: bool = False) -> bool:
        """Block ``me`` on ``waiting`` until woken (True) or until ``timeout`` virtual seconds pass.

        ``early``: the strategy may end the timeout before the others progress further (a sleep, a
        program's timed wait); False for a timeout that is interlace's own (a blocking call's poll),
        which ends only when no other thread can run. ``guard``: a program's wait for another thread,
        whose timeout of ``hang_guard`` seconds or more only guards against a hang (see HANG_GUARD)."""
        self._not_runnable(me, BLOCKED)
        me.waiting = waiting
        me.deadline = None if timeout is None else self.now + timeout
        me.early = timeout is not None and early and not (guard and self._guards(me, timeout))
        if me.early:
            self.timed += 1
        me.timed_out = False
        waiters = self._waiters.get(id(waiting))
        if waiters is None:
            self._waiters[id(waiting)] = waiters = {}
        waiters[me] = None
        self._schedule(me)
        return not me.timed_out

    def _guards(self, me: ThreadState, timeout: float) -> bool:
        """Whether ``me``'s wait for another thread, bounded by ``timeout``, only guards against a hang:
        a long timeout, unless it is a ``threading.Timer``'s interval (``finished.wait(interval)``, also
        in a repeating subclass), which is a delay like a sleep; or what is left of such a wait: the
        standard library waits again for the rest of a timeout after a wake-up that did not satisfy it
        (``Condition.wait_for``, ``Queue.get``/``put``, ``Semaphore.acquire``, ``Barrier.wait``), and the
        deadline, computed from the same virtual clock, is the same (up to float rounding)."""
        if self.hang_guard is None:
            return False
        deadline = self.now + timeout
        if timeout < self.hang_guard:
            until = me.guarded_until
            return until is not None and abs(deadline - until) <= GUARD_SAME_DEADLINE
        thread = me.thread
        if isinstance(thread, threading.Timer) and timeout == thread.interval:
            return False
        me.guarded_until = deadline
        return True

    def wake(self, ts: ThreadState) -> None:
        waiters = self._waiters.get(id(ts.waiting))
        if waiters is not None:
            waiters.pop(ts, None)
        self._runnable(ts)
        ts.waiting = None
        if ts.early:
            self.timed -= 1
            ts.early = False
        ts.deadline = None

    def wake_waiters(self, waiting: Any) -> None:
        waiters = self._waiters.get(id(waiting))
        if waiters:
            for t in list(waiters):
                if t.status == BLOCKED and t.waiting is waiting:
                    self.wake(t)

    # -- hooks called by instrumented code ----------------------------------------------------------

    def access(self, kind: str, obj: Any, key: Any, site: tuple, value: Any = _NO_VALUE) -> None:
        fast = self.fast
        if fast.budget and fast.ident == get_ident() and fast.free_threaded:
            # point()'s fast path for an access: nothing to decide, so nothing to describe but for the trace
            fast.step += 1
            fast.budget -= 1
            fast.loops = 0
            fast.accesses += 1
            if kind is not READ:
                fast.progress_at = fast.step
            if fast.trace:
                self._traced(self.current, kind, obj, key, site, value)
            if fast.observe:
                self._tell(self.current, kind, obj, key, site, False)
            return
        me = self.me()
        if me is None:
            return
        self._access(me, kind, obj, key, site, value, False)

    def _traced(self, me: ThreadState, kind: str, obj: Any, key: Any, site: tuple | None, value: Any) -> None:
        """What point() notes of an access it takes on its fast path, when the trace is kept."""
        me.pending = kind
        me.pending_what = what = self.describe(obj, key)
        self.note(me, kind, what, site, short_repr(value) if value is not _NO_VALUE else None)

    def walk_step(self, kind: str | None, container: Any, what: str, site: tuple | None) -> None:
        """A step of library code walking ``container`` where instrumented code cannot see it (a call
        back into Python from ``max(d, key=f)``, an item of a ``copy.deepcopy``; see
        runtime/iterating.py): a scheduling point in either model, an atomic ``kind`` access of the
        whole container, or a call when ``kind`` is None. Python code ran since the walk's last step (a
        callback, the library's own): a point where a GIL can switch threads too."""
        me = self.me()
        if me is None:
            return
        self.fast.gil_points += 1
        if kind is None:
            self.point(me, "call", what, site)
        else:
            self._access(me, kind, container, "*", site or me.site, _NO_VALUE, True)

    def _access(self, me: ThreadState, kind: str, obj: Any, key: Any, site: tuple, value: Any,
                atomic: bool) -> None:
        fast = self.fast
        fast.accesses += 1
        if kind is not READ:
            fast.progress_at = fast.step + 1
        if self.free_threaded or atomic:
            shown = short_repr(value) if value is not _NO_VALUE and self.record_trace else None
            self.point(me, kind, self.describe(obj, key) if self.record_trace or not fast.budget else None,
                       site, shown)
        elif self.record_trace:
            shown = short_repr(value) if value is not _NO_VALUE else None
            self.note(me, kind, self.describe(obj, key), site, shown)
        else:
            me.site = site
        if fast.observe:
            self._tell(me, kind, obj, key, site, atomic)

    def _tell(self, me: Any, kind: str, obj: Any, key: Any, site: tuple, atomic: bool) -> None:
        """Tell the access observers about an access, unless the holder told them since the last
        switch or synchronisation."""
        if plain_key(key):
            # an entry names the object by id and type (no reference to the object, strong or weak,
            # which a program could see): a new object of another type at a dead one's address is new.
            # Only keys that are plain values are kept (another key, say a dict key that is a program
            # object, is told every time: keeping it would keep it alive)
            told = (id(obj), key, kind, site, atomic)
            if self.fast.told.get(told) is type(obj):
                return
            self.fast.told[told] = type(obj)
        for observer in self.access_observers:
            observer.access(self, me, kind, obj, key, site, atomic)

    def stop_telling(self, observer: Any) -> None:
        """``observer`` has the accesses it watched for (a replay for stacks that captured the last one
        it wanted): the rest of the execution tells it none. It still sees the synchronisations, which
        count as progress as they did in the run it replays; and the execution is not ended early (a
        program's state that outlives it, a fixture's event loop, would be left half-way)."""
        self.access_observers = [o for o in self.access_observers if o is not observer]
        self._plan_calls()
        self.fast.observe = bool(self.access_observers)

    def _plan_calls(self) -> None:
        """What telling the observers calls, built once per change of them (the C hooks of
        ``interlace._speedups`` walk these lists; see ``Observer`` in detect/__init__.py): for each
        access observer, its ``native_access`` (None: none); for each observer, its ``native_sync``
        and the ``sync_kinds`` it watches (None: all), so that an event loop's edges, a few per task
        step, call no observer that would return at once."""
        self.access_calls = [(o, getattr(o, "native_access", None)) for o in self.access_observers]
        self.sync_calls = [(o, getattr(o, "native_sync", None), getattr(o, "sync_kinds", None))
                           for o in self.observers]

    def synced(self, kind: str, me: ThreadState, obj: Any) -> None:
        """A synchronisation event for observers: acquire/release of a lock, start/join/finish."""
        fast = self.fast
        fast.told.clear()
        fast.progress_at = fast.step
        for observer, _, kinds in self.sync_calls:
            if kinds is None or kind in kinds:
                observer.sync(self, kind, me, obj)

    def observe(self, value: Any) -> None:
        """The value the calling thread just read (only called when ``capture_values`` is set)."""
        if get_ident() == self.current_ident and self.trace and self.trace[-1].tid == self.current.tid:
            self.trace[-1] = self.trace[-1]._replace(value=short_repr(value))

    def describe(self, obj: Any, key: Any) -> str:
        if type(obj) is dict and "__builtins__" in obj:  # (a dict subclass's __contains__ is the program's)
            return str(key)  # a module global
        if is_cell_key(obj, key):
            return key
        name = type(obj).__name__
        if key == "*":
            return name  # the whole container
        if isinstance(key, str) and not isinstance(obj, (dict, list)):
            return f"{name}.{key}"
        return f"{name}[{key!r}]" if isinstance(key, (str, int)) else f"{name}[...]"

    def call(self, fn: Any, site: tuple, args: tuple, entry: bool = False) -> Any:
        """What to call for ``fn(*args)`` at ``site``, after its scheduling point (if it is one).
        ``entry``: ``fn`` is the target a managed thread begins with (``Thread.run``), a call of
        instrumented code then is no point in either model (its own accesses are)."""
        me = self.me()
        if me is None:
            return fn
        me.site = site
        self.fast.gil_points += 1
        if entry:
            me.entered_at = self.fast.step
        kind, what, replacement, target = self.classifier.classify(fn, args, self)
        if replacement is not None:
            fn = replacement
        if kind is None:
            if not self.free_threaded and not entry:
                self.point(me, "call", what, site)
        elif target is not None:
            self._access(me, kind, target[0], target[1], site, _NO_VALUE, target[2])
        else:
            self.point(me, kind, what, site)
        return fn

    def callee(self, fn: Any, site: tuple) -> Any:
        """What instrumented code calls for ``fn(...)`` (see ``hooks._il_cp``): the scheduling point
        of the call happens here, before the arguments are evaluated, unless the call is an access
        whose location is in the arguments: then a wrapper makes the point when it gets them."""
        me = self.me()
        if me is None:
            return fn
        me.site = site
        self.fast.gil_points += 1
        kind, what, replacement, needs_args = self.classifier.classify_callee(fn)
        if needs_args:
            return partial(_call_with_arguments, self, fn, site)
        if replacement is not None:
            fn = replacement
        if kind is None:
            if not self.free_threaded:
                self.point(me, "call", what, site)
        else:
            self.point(me, kind, what, site)
        return fn

    def with_manager(self, manager: Any, site: tuple) -> Any:
        me = self.me()
        if me is None:
            return manager
        me.site = site
        replacement = self.classifier.substitute_manager(manager, self)
        return manager if replacement is None else replacement

    def loop(self, site: tuple) -> None:
        """A loop back-edge: a switch point in the GIL model. In the free-threaded model only a step,
        since switching here shows nothing that switching at the loop's next shared access would not;
        but every LOOP_POINT_EVERY back-edges without a scheduling point it is one, so a loop that
        touches nothing shared (computing, or spinning forever) still lets the others run."""
        fast = self.fast
        if fast.ident == get_ident():
            me = self.current
        else:
            me = self.me()
            if me is None:
                return
        fast.gil_points += 1
        fast.back_edges += 1
        fast.progress_at += 1  # a back-edge is neither progress nor the lack of it
        if fast.free_threaded:
            fast.loops += 1
            if fast.loops >= LOOP_POINT_EVERY:
                self.point(me, "loop", "back-edge", site)
            else:
                fast.step += 1
                if fast.step > fast.limit:
                    me.site = site
                    self._livelock(me)
        else:
            self.point(me, "loop", "back-edge", site)

    def loop_entered(self) -> None:
        """The calling thread enters a loop whose test reads shared state (see :meth:`loop_exited`)."""
        me = self.current if self.fast.ident == get_ident() else self.me()
        if me is not None:
            me.loop_entry = self.access_number(me)

    def loop_exited(self) -> None:
        """That loop's test ended it: the reads its last evaluation made (the calling thread's accesses
        since it entered the loop and since its last back-edge) saw what ended the loop. The race
        detector uses it to tell a poll's consume from a lost update (``RaceDetector.loop_exit``)."""
        if not self.access_observers:
            return
        me = self.current if self.fast.ident == get_ident() else self.me()
        if me is not None:
            for observer in self.access_observers:
                exited = getattr(observer, "loop_exit", None)
                if exited is not None:
                    exited(self, me, me.loop_entry)

    def gil_clock(self, ts: ThreadState) -> int:
        """How many points where a GIL could switch threads ``ts`` passed (for the race detector's
        verdict: did one lie between two of its accesses?)."""
        return ts.gil_points + (self.fast.gil_points if ts is self.current else 0)

    def back_edge_count(self, ts: ThreadState) -> int:
        """How many loop back-edges ``ts`` passed so far (the race detector: a read before one is no
        check of a write after it)."""
        return ts.back_edges + (self.fast.back_edges if ts is self.current else 0)

    def access_number(self, ts: ThreadState) -> int:
        """How many shared accesses ``ts`` made so far, this one included: names an access in a
        replay of the execution (the detectors number accesses by it, told or not)."""
        return ts.accesses + (self.fast.accesses if ts is self.current else 0)

    # -- failures ------------------------------------------------------------------------------------

    def fail_exception(self, ts: ThreadState, exc: BaseException) -> None:
        import traceback

        if self.failure is None:
            where = "the main function" if ts.tid == 0 else f"thread {ts.name!r}"
            self.failure = Failure(
                "exception",
                f"{type(exc).__name__} in {where}: {exc}",
                thread=ts.name,
                exception=exc,
                traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                step=self.step,
            )

    def thread_exception(self, exc: BaseException) -> None:
        """An uncaught exception ended a managed thread (called from threading.excepthook)."""
        me = self.me()
        if me is None or isinstance(exc, Abort):
            return
        self.fail_exception(me, exc)
        self._abort_from(me)

    def _abort_from(self, me: ThreadState) -> None:
        """End the execution from the baton holder: every other thread unwinds with Abort."""
        with self._mutex:
            self.aborting = True
            self.fast.ident = None
            for ts in self.threads:
                if ts is not me and ts.status != FINISHED:
                    _release(ts.gate)

    def _deadlock(self, me: ThreadState) -> None:
        blocked = [t for t in self.threads if t.status == BLOCKED]
        message, details = describe_deadlock(self, blocked)
        self.failure = Failure("deadlock", message, details=details, step=self.step)
        self._abort_from(me)
        raise Abort

    def _stopped(self, me: ThreadState) -> None:
        reason = getattr(self.strategy, "divergence", None) or "the strategy stopped the execution"
        self.failure = Failure("divergence", reason, thread=me.name, step=self.step)
        self._abort_from(me)
        raise Abort

    def _livelock(self, me: ThreadState, no_progress: bool = False) -> None:
        message, details = describe_livelock(self, me, no_progress)
        self.failure = Failure("livelock", message, thread=me.name, details=details, step=self.step)
        self._abort_from(me)
        raise Abort



class _TaskIdentity:
    """What a ThreadState reads from a thread, for an asyncio task: its name; never waited for at exit."""

    daemon = True

    def __init__(self, name: str) -> None:
        self.name = name


def _release(gate: Any) -> None:
    try:
        gate.release()
    except RuntimeError:
        pass  # already released: the thread is about to run


def _call_with_arguments(ex: Execution, fn: Any, site: tuple, /, *args: Any, **kwargs: Any) -> Any:
    """A call that is an access of a location named by its arguments (``d.get(k)``, ``setattr``)."""
    return ex.call(fn, site, args)(*args, **kwargs)


def _unregister(thread: threading.Thread, ident: int | None) -> None:
    """Drop what threading still records of ``thread`` when its bootstrap did not run to its end (an
    aborted execution stops a thread before or inside it): a Thread left in ``threading._limbo`` or
    ``_active`` under this OS thread id would name the next thread that gets the same id."""
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        threading._limbo.pop(thread, None)  # type: ignore[attr-defined]
        if threading._active.get(ident) is thread:  # type: ignore[attr-defined]
            del threading._active[ident]  # type: ignore[attr-defined]
