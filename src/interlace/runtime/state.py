"""What an execution is made of: its threads' states, its trace, its failure.

These are the data types and constants that the scheduler core (:mod:`.execution`) produces and that
the rest of interlace reads: the runtime (locks, thread patching, descriptions of deadlocks), the
detectors, the strategies (which look at the threads' states and pending operations) and the
reports (the trace and the failure). They live apart from :class:`~.execution.Execution` so that
those readers depend on what an execution *is*, not on the machinery that runs one.
"""

from __future__ import annotations

import os
import threading
from _thread import allocate_lock
from dataclasses import dataclass, field
from typing import Any, NamedTuple

#: frames of interlace itself (its hooks) are not part of a failure's identity
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

RUNNABLE = "runnable"
BLOCKED = "blocked"
FINISHED = "finished"
OUTSIDE = "outside"  # running code the scheduler cannot see (blocked in a socket, a C call, ...)

END_OF_MAIN = "end of main"  # what the main thread waits on once its function has returned
SLEEP = "sleep"


class _EndedTask:
    """What a unit's ``task`` becomes once the task ended: still a task (the reports, DPOR and the
    detectors tell tasks from threads by it), no longer the program's object, which the execution must
    not keep alive (a task nobody retrieved the exception of logs it when collected: async-lru's tests
    wait for that log; objects its frames hold are freed then)."""

    def get_coro(self) -> None:
        return None

    def done(self) -> bool:
        return True


ENDED_TASK = _EndedTask()


_SCALARS = (int, float, bool, str, bytes, type(None))


def short_repr(value: Any, limit: int = 40) -> str:
    """A repr short enough for a table cell; big or costly values are shown by type only."""
    if isinstance(value, _SCALARS):
        text = repr(value)
    elif (type(value) in (list, tuple, set, frozenset) and len(value) <= 8
          and all(isinstance(v, _SCALARS) for v in value)):
        text = repr(value)
    elif type(value) is dict and len(value) <= 8 and all(
            isinstance(k, _SCALARS) and isinstance(v, _SCALARS) for k, v in value.items()):
        text = repr(value)
    elif isinstance(value, (list, tuple, dict, set, frozenset)):
        text = f"<{type(value).__name__} of {len(value)}>"
    else:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Choices:
    """The decisions of an execution (one tid per scheduling point where several threads could run),
    stored as runs of the same tid.

    A long execution decides mostly "the same thread again" (the fast path of :meth:`Execution.point`
    takes those without asking the strategy): run-length storage keeps millions of decisions in a
    few runs. It iterates, compares and measures like the flat list it stands for.
    """

    __slots__ = ("tids", "counts", "total")

    def __init__(self, flat: Any = ()) -> None:
        self.tids: list[int] = []
        self.counts: list[int] = []
        self.total = 0
        for tid in flat:
            self.append(tid)

    def append(self, tid: int) -> None:
        if self.tids and self.tids[-1] == tid:
            self.counts[-1] += 1
        else:
            self.tids.append(tid)
            self.counts.append(1)
        self.total += 1

    def stay(self, n: int) -> None:
        """``n`` more decisions for the thread of the last one."""
        self.counts[-1] += n
        self.total += n

    def runs(self) -> list[tuple[int, int]]:
        return list(zip(self.tids, self.counts, strict=True))

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Any:
        for tid, n in zip(self.tids, self.counts, strict=True):
            for _ in range(n):
                yield tid

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Choices):
            return self.tids == other.tids and self.counts == other.counts
        if isinstance(other, (list, tuple)):
            return len(other) == self.total and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Choices({self.runs()!r})"


class Abort(BaseException):
    """Raised in managed threads to unwind them when their execution ends early."""


class Event(NamedTuple):
    """One entry of an execution's trace: an operation done by a thread."""

    index: int  # position in the trace (1-based): the order in which operations happened
    tid: int
    kind: str  # read / write / delete / call / acquire / release / start / join / sleep / loop / ...
    what: str  # the name or key accessed, the callee, the lock, ...
    site: tuple | None  # (filename, lineno, col) in the code under test, when known
    value: str | None = None  # repr of the value written (or read, with capture_values), if simple


@dataclass
class Failure:
    """What went wrong in an execution, with everything a report needs."""

    kind: str  # "exception" / "deadlock" / "livelock" / "stuck"
    message: str
    thread: str | None = None
    exception: BaseException | None = None
    traceback: str = ""
    details: list[str] = field(default_factory=list)
    step: int = 0

    def signature(self) -> tuple:
        """Identity of the failure used to tell whether two executions failed the same way."""
        exc = self.exception
        if exc is None:
            return (self.kind,)
        tb = exc.__traceback__
        last = None
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if not filename.startswith(_PACKAGE_DIR):
                last = (filename, tb.tb_lineno)
            tb = tb.tb_next
        # (the program's last frame: an operation raises in interlace's Python hook when values are noted,
        # in its C twin otherwise)
        return (self.kind, type(exc).__name__, last)


class ThreadState:
    """The scheduler's view of one managed thread."""

    __slots__ = (
        "tid", "thread", "name", "gate", "exited", "status", "waiting", "deadline", "timed_out",
        "ident", "daemon", "held", "run_length", "site", "outside_since", "gil_points", "pending",
        "pending_what", "pending_lock", "accesses", "back_edges", "early", "io_deadline", "task",
        "guarded_until", "loop_entry", "entered_at",
    )

    def __init__(self, tid: int, thread: threading.Thread) -> None:
        self.tid = tid
        self.thread = thread
        self.name = thread.name
        self.gate = allocate_lock()
        self.gate.acquire()
        self.exited = allocate_lock()
        self.exited.acquire()
        self.status = RUNNABLE
        self.waiting: Any = None
        self.deadline: float | None = None
        self.timed_out = False
        self.early = False  # blocked with a deadline the strategy may end early (see Execution.block)
        self.io_deadline: float | None = None  # the virtual deadline of the blocking call it is in, if any
        # the deadline of its last wait that was a hang guard: a wait for the same deadline continues it
        # (``Condition.wait_for``, ``Queue.get`` wait again for what is left) and is a guard too
        self.guarded_until: float | None = None
        self.ident: int | None = None
        self.daemon = thread.daemon
        self.held: list = []
        self.run_length = 0
        self.site: tuple | None = None
        self.outside_since = 0.0
        self.gil_points = 0  # calls and loop back-edges so far: where the GIL could have switched
        self.back_edges = 0  # loop back-edges so far (a read before one is no check of a write after it)
        self.loop_entry = 0  # its shared accesses before it entered its latest polling loop (see loop_exited)
        self.pending: str | None = "start"  # the operation the thread does when it next runs
        self.pending_what: Any = None  # and what it does it on (a name, a lock label, a thread)
        # the lock whose acquire the thread is in, from its scheduling point until it holds the lock
        # (``pending`` is None there: the trace and reports name an acquire only once it happened)
        self.pending_lock: Any = None
        self.accesses = 0  # shared accesses so far (see Execution.access_number)
        # the execution's step when the thread's target began (Execution.call's entry), -1 before: while
        # it is the step still, the thread has made no scheduling point of its own since its start
        self.entered_at = -1
        # the asyncio task this state stands for (see runtime/eventloop.py): a unit of the scheduler with
        # no OS thread of its own, whose steps run on its event loop's thread; None for a thread
        self.task: Any = None

    def __repr__(self) -> str:
        return f"<ThreadState {self.tid} {self.name} {self.status}>"
