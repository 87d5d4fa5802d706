"""Systematic strategies (DFS, DPOR) against a brute-force enumeration computed independently here.

Each program is written twice: as ordinary threaded Python (run by interlace) and as a model, one
list of operations per thread. The test enumerates every merge of the models' lists, runs the model
on each to get the set of final states, and counts the Mazurkiewicz traces (two merges are the same
trace when they order every pair of conflicting operations of different threads the same way). The
strategies must reach exactly the final states of the model, and DPOR (optimal DPOR) must run exactly
one execution per trace, with two, three or four threads.
"""

from __future__ import annotations

import threading

import pytest

import interlace
from interlace.strategies import DFS, DPOR, POS, Portfolio, make_strategy
from interlace.strategies.dependence import dependent

pytestmark = pytest.mark.timeout(120)

FINALS: list = []
X = Y = Z = 0
A = B = 0
LOCK = threading.Lock()


def _run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- the model ---------------------------------------------------------------------------------------
# an operation: ("r", var, reg) reads var into the thread's register reg; ("w", var, f) writes f(regs);
# ("acq", lock) / ("rel", lock) take and release a lock (a merge where a thread acquires a held lock
# is not an execution).
# Hand-offs, as interlace runs them: every critical section of an Event's or a Queue's internal lock is
# a write of the primitive; ("set", e) and ("clear", e) write the flag; ("wait", e) checks it and, when
# it is clear, blocks: its ("waitend", e) (taking the lock again) can run only after a set of another
# thread that came after the wait, and does not happen at all when the flag was set (then it is not an
# operation of the execution, and orders nothing). ("put", q, v) appends v; ("get", q, reg) takes the
# first item or blocks, and its ("getend", q, reg) runs after a put that came later. ("call",) is a call
# into code interlace cannot see (``Event.clear`` is one, before its critical section): it conflicts
# with everything. ("isset", e, reg) reads the flag without the lock: it conflicts with every
# operation of the Event but another isset (two reads). ("twait", e, reg) is ``reg = e.wait(timeout)``:
# like a wait (reg = 1 when the flag is set), but its ("twaitend", e, reg) also runs when it was not
# woken, as the timeout (reg = 0), at any point: no real scheduler promises that a timeout expires only
# once every other thread that can run has run.
# ("rmw", var, f) sets var to f(var) in one atomic step (``lst.append(x)``); ("regs", var, names) stores
# the thread's registers ``names`` in var (how a generated program shows what its threads read).
# ("start", k) starts thread k (the main thread's operations between start() and join() are a thread of
# the model, thread 0): no operation of thread k runs before it; it conflicts with nothing (it is ordered
# with thread k's operations in every execution).
SYNC = frozenset({"set", "clear", "wait", "waitend", "put", "get", "getend", "isset", "twait", "twaitend"})


def merges(threads):
    """Every interleaving of the threads' operation lists, as lists of (thread, index)."""
    lengths = [len(t) for t in threads]

    def rec(pos, acc):
        if all(p == n for p, n in zip(pos, lengths, strict=True)):
            yield list(acc)
            return
        for i, n in enumerate(lengths):
            if pos[i] < n:
                acc.append((i, pos[i]))
                pos[i] += 1
                yield from rec(pos, acc)
                pos[i] -= 1
                acc.pop()

    yield from rec([0] * len(threads), [])


def simulate(threads, order, init, skipped=None):
    """The final state of running ``order`` (None when it is not an execution); the operations that
    did not happen (a ``waitend``/``getend`` whose wait did not block) go into ``skipped``."""
    state = dict(init)
    regs = [dict() for _ in threads]
    held: dict[str, int] = {}
    blocked: dict[int, tuple[str, bool]] = {}  # thread -> (primitive, woken yet)
    done = [0] * len(threads)  # operations run so far, per thread
    unstarted = {op[1] for ops in threads for op in ops if op[0] == "start"}
    for t, i in order:
        op = threads[t][i]
        done[t] = i + 1
        if t in unstarted:
            return None  # before the thread was started: not an execution
        if op[0] == "start":
            unstarted.discard(op[1])
        elif op[0] in ("set", "put"):
            if op[0] == "set":
                state[op[1]] = 1
            else:
                state[op[1]] = state[op[1]] + (op[2],)
            for u, (what, _) in list(blocked.items()):
                if what == op[1] and u != t:
                    blocked[u] = (what, True)
        elif op[0] == "clear":
            state[op[1]] = 0
        elif op[0] == "isset":
            regs[t][op[2]] = state[op[1]]
        elif op[0] == "twait":
            if state[op[1]]:
                regs[t][op[2]] = 1
                if skipped is not None:
                    skipped.add((t, i + 1))
            else:
                blocked[t] = (op[1], False)
        elif op[0] == "twaitend":
            if t in blocked:
                woken = blocked.pop(t)[1]
                regs[t][op[2]] = 1 if woken else 0  # a timeout may expire while others can run
        elif op[0] in ("wait", "get"):
            if state[op[1]]:
                if op[0] == "get":
                    regs[t][op[2]], state[op[1]] = state[op[1]][0], state[op[1]][1:]
                if skipped is not None:
                    skipped.add((t, i + 1))
            else:
                blocked[t] = (op[1], False)
        elif op[0] in ("waitend", "getend"):
            if t in blocked:
                if not blocked.pop(t)[1]:
                    return None  # not woken yet: not a possible execution
                if op[0] == "getend":
                    regs[t][op[2]], state[op[1]] = state[op[1]][0], state[op[1]][1:]
        elif op[0] == "r":
            regs[t][op[2]] = state[op[1]]
        elif op[0] == "rmw":  # one atomic read-modify-write (``lst.append(x)``)
            state[op[1]] = op[2](state[op[1]])
        elif op[0] == "xchg":  # one atomic read then store (``r = d.pop(k, 0)``: the value goes, 0 is left)
            regs[t][op[2]], state[op[1]] = state[op[1]], op[3]
        elif op[0] == "regs":  # the thread's registers, kept in the state (a location of its own)
            state[op[1]] = tuple(regs[t].get(name) for name in op[2])
        elif op[0] == "w":
            state[op[1]] = op[2](regs[t])
        elif op[0] == "acq":
            if op[1] in held:
                return None  # not a possible execution
            held[op[1]] = t
        elif op[0] == "rel":
            del held[op[1]]
    return state


def conflict(a, b):
    if a[0] == "start" or b[0] == "start":
        return False
    if a[0] == "call" or b[0] == "call":
        return True
    if a[0] == "isset" and b[0] == "isset":
        return False  # two reads of the flag
    if a[0] in SYNC or b[0] in SYNC:
        return a[0] in SYNC and b[0] in SYNC and a[1] == b[1]
    if a[0] in ("acq", "rel") or b[0] in ("acq", "rel"):
        return a[0] == "acq" and b[0] == "acq" and a[1] == b[1]
    return a[1] == b[1] and bool({"w", "rmw", "xchg", "regs"} & {a[0], b[0]})


def brute_force(threads, init, observe):
    """(set of observed final states, number of Mazurkiewicz traces, number of interleavings)."""
    finals, traces, count = set(), set(), 0
    ops = [(t, i, op) for t, ops_t in enumerate(threads) for i, op in enumerate(ops_t)]
    pairs = [(a, b) for a in ops for b in ops if a[0] < b[0] and conflict(a[2], b[2])]
    for order in merges(threads):
        skipped: set = set()
        state = simulate(threads, order, init, skipped)
        if state is None:
            continue
        count += 1
        finals.add(observe(state))
        where = {ti: n for n, ti in enumerate(order)}
        traces.add(frozenset(skipped) | frozenset(
            (a[:2], b[:2]) if where[a[:2]] < where[b[:2]] else (b[:2], a[:2])
            for a, b in pairs if a[:2] not in skipped and b[:2] not in skipped))
    return finals, len(traces), count


def normal_forms(threads):
    """Two threads: one interleaving per Mazurkiewicz trace, its lexicographic normal form (thread 0
    first). An interleaving is in normal form iff wherever an operation of thread 0 directly follows
    one of thread 1, the two conflict (else swapping them gives a smaller equivalent word)."""
    first, second = threads

    def rec(i, j, last, acc):
        if i == len(first) and j == len(second):
            yield list(acc)
            return
        if i < len(first) and (last != 1 or conflict(first[i], second[j - 1])):
            acc.append((0, i))
            yield from rec(i + 1, j, 0, acc)
            acc.pop()
        if j < len(second):
            acc.append((1, j))
            yield from rec(i, j + 1, 1, acc)
            acc.pop()

    yield from rec(0, 0, None, [])


def inc(var, reg="v"):
    return [("r", var, reg), ("w", var, lambda r, reg=reg: r[reg] + 1)]


# -- the programs ----------------------------------------------------------------------------------------


def lost_update_2x2():
    global X
    X = 0

    def work():
        global X
        for _ in range(2):
            X = X + 1

    _run(work, work)
    FINALS.append(X)


LOST_UPDATE_2X2 = ([inc("X") * 2, inc("X") * 2], {"X": 0}, lambda s: s["X"])


def lost_update_1x1():
    global X
    X = 0

    def work():
        global X
        X = X + 1

    _run(work, work)
    FINALS.append(X)


LOST_UPDATE_1X1 = ([inc("X"), inc("X")], {"X": 0}, lambda s: s["X"])


def store_buffer():
    global X, Y, A, B
    X = Y = A = B = 0

    def one():
        global X, A
        X = 1
        A = Y

    def two():
        global Y, B
        Y = 1
        B = X

    _run(one, two)
    FINALS.append((A, B))


STORE_BUFFER = (
    [[("w", "X", lambda r: 1), ("r", "Y", "a"), ("w", "A", lambda r: r["a"])],
     [("w", "Y", lambda r: 1), ("r", "X", "b"), ("w", "B", lambda r: r["b"])]],
    {"X": 0, "Y": 0, "A": 0, "B": 0}, lambda s: (s["A"], s["B"]))


def three_writers_reader():
    """Two writers of different variables and a reader of both (the sleep-set example)."""
    global X, Y, A, B
    X = Y = A = B = 0

    def wx():
        global X
        X = 1

    def wy():
        global Y
        Y = 1

    def reader():
        global A, B
        A = Y
        B = X

    _run(wx, wy, reader)
    FINALS.append((A, B))


THREE_WRITERS_READER = (
    [[("w", "X", lambda r: 1)], [("w", "Y", lambda r: 1)],
     [("r", "Y", "a"), ("w", "A", lambda r: r["a"]), ("r", "X", "b"), ("w", "B", lambda r: r["b"])]],
    {"X": 0, "Y": 0, "A": 0, "B": 0}, lambda s: (s["A"], s["B"]))


def three_counters():
    """Three threads, two of them racing on X, the third on Y then reading X."""
    global X, Y, Z
    X = Y = Z = 0

    def inc_x():
        global X
        X = X + 1

    def third():
        global Y, Z
        Y = Y + 1
        Z = X

    _run(inc_x, inc_x, third)
    FINALS.append((X, Y, Z))


THREE_COUNTERS = (
    [inc("X"), inc("X"), inc("Y") + [("r", "X", "z"), ("w", "Z", lambda r: r["z"])]],
    {"X": 0, "Y": 0, "Z": 0}, lambda s: (s["X"], s["Y"], s["Z"]))


def eight_accesses():
    """Two threads with 8 shared accesses each on three variables (12 makes the brute force slow)."""
    global X, Y, Z
    X = Y = Z = 0

    def one():
        global X, Y
        for _ in range(2):
            X = X + 1
            Y = Y + 1

    def two():
        global Y, Z
        for _ in range(2):
            Z = Z + 1
            Y = Y + 1

    _run(one, two)
    FINALS.append((X, Y, Z))


EIGHT_ACCESSES = ([(inc("X") + inc("Y")) * 2, (inc("Z") + inc("Y")) * 2], {"X": 0, "Y": 0, "Z": 0},
                   lambda s: (s["X"], s["Y"], s["Z"]))


def locked_2x2():
    global X
    X = 0

    def work():
        global X
        for _ in range(2):
            with LOCK:
                X = X + 1

    _run(work, work)
    FINALS.append(X)


LOCKED_OPS = [("acq", "L"), *inc("X"), ("rel", "L")] * 2
LOCKED_2X2 = ([LOCKED_OPS, LOCKED_OPS], {"X": 0}, lambda s: s["X"])


def locked_and_reader():
    """Two locked increments and an unlocked reader (three threads)."""
    global X, A
    X = A = 0

    def work():
        global X
        with LOCK:
            X = X + 1

    def reader():
        global A
        A = X

    _run(work, work, reader)
    FINALS.append((X, A))


LOCKED_INC = [("acq", "L"), *inc("X"), ("rel", "L")]
LOCKED_AND_READER = ([LOCKED_INC, LOCKED_INC, [("r", "X", "a"), ("w", "A", lambda r: r["a"])]],
                     {"X": 0, "A": 0}, lambda s: (s["X"], s["A"]))


def two_locks_one_line():
    """Each thread locks its own lock (both made on one line, so the runtime names them alike): the
    increments still race."""
    global X
    X = 0
    locks = [threading.Lock() for _ in range(2)]

    def work(i):
        global X
        with locks[i]:
            X = X + 1
        with locks[i]:
            X = X + 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    FINALS.append(X)


def _own_lock(name):
    return [("acq", name), *inc("X"), ("rel", name)] * 2


TWO_LOCKS_ONE_LINE = ([_own_lock("L0"), _own_lock("L1")], {"X": 0}, lambda s: s["X"])


def writer_reader_writer():
    """The example issue #5 gives for optimal DPOR: one thread writes X, one reads Y then X, one writes
    Y (with interlace's thread start order, source-DPOR happened to run no redundant execution here;
    it did on three_counters, three_increments and locked_then_shared)."""
    global X, Y, A, B
    X = Y = A = B = 0

    def wx():
        global X
        X = 1

    def reader():
        global A, B
        A = Y
        B = X

    def wy():
        global Y
        Y = 1

    _run(wx, reader, wy)
    FINALS.append((A, B))


WRITER_READER_WRITER = (
    [[("w", "X", lambda r: 1)],
     [("r", "Y", "a"), ("w", "A", lambda r: r["a"]), ("r", "X", "b"), ("w", "B", lambda r: r["b"])],
     [("w", "Y", lambda r: 1)]],
    {"X": 0, "Y": 0, "A": 0, "B": 0}, lambda s: (s["A"], s["B"]))


def three_increments():
    """Three threads, each an unlocked increment of X. Source-DPOR with sleep sets runs 37 executions
    for its 36 traces."""
    global X
    X = 0

    def work():
        global X
        X = X + 1

    _run(work, work, work)
    FINALS.append(X)


THREE_INCREMENTS = ([inc("X"), inc("X"), inc("X")], {"X": 0}, lambda s: s["X"])


def locked_three():
    """Three threads: two increment X under a lock, the third sets Y then reads X under the lock."""
    global X, Y, A
    X = Y = A = 0

    def work():
        global X
        with LOCK:
            X = X + 1

    def third():
        global Y, A
        Y = 1
        with LOCK:
            A = X

    _run(work, third, work)
    FINALS.append((X, A))


LOCKED_THREE = (
    [LOCKED_INC,
     [("w", "Y", lambda r: 1), ("acq", "L"), ("r", "X", "a"), ("w", "A", lambda r: r["a"]), ("rel", "L")],
     LOCKED_INC],
    {"X": 0, "Y": 0, "A": 0}, lambda s: (s["X"], s["A"]))


def locked_then_shared():
    """Two threads increment X under a lock and then Y without one; a third increments Y. Source-DPOR
    with sleep sets runs 73 executions for its 72 traces."""
    global X, Y
    X = Y = 0

    def work():
        global X, Y
        with LOCK:
            X = X + 1
        Y = Y + 1

    def other():
        global Y
        Y = Y + 1

    _run(work, other, work)
    FINALS.append((X, Y))


LOCKED_THEN_SHARED = ([LOCKED_INC + inc("Y"), inc("Y"), LOCKED_INC + inc("Y")], {"X": 0, "Y": 0},
                      lambda s: (s["X"], s["Y"]))


def four_threads():
    """Four threads: two increment X, one writes Y, one reads Y then X."""
    global X, Y, A, B
    X = Y = A = B = 0

    def inc_x():
        global X
        X = X + 1

    def wy():
        global Y
        Y = 1

    def reader():
        global A, B
        A = Y
        B = X

    _run(inc_x, reader, wy, inc_x)
    FINALS.append((X, A, B))


FOUR_THREADS = (
    [inc("X"), [("r", "Y", "a"), ("w", "A", lambda r: r["a"]), ("r", "X", "b"), ("w", "B", lambda r: r["b"])],
     [("w", "Y", lambda r: 1)], inc("X")],
    {"X": 0, "Y": 0, "A": 0, "B": 0}, lambda s: (s["X"], s["A"], s["B"]))


def twelve_accesses():
    """Two threads with 12 shared accesses each on three variables."""
    global X, Y, Z
    X = Y = Z = 0

    def one():
        global X, Y
        for _ in range(3):
            X = X + 1
            Y = Y + 1

    def two():
        global Y, Z
        for _ in range(3):
            Z = Z + 1
            Y = Y + 1

    _run(one, two)
    FINALS.append((X, Y, Z))


TWELVE_ACCESSES = ([(inc("X") + inc("Y")) * 3, (inc("Z") + inc("Y")) * 3], {"X": 0, "Y": 0, "Z": 0},
                   lambda s: (s["X"], s["Y"], s["Z"]))


def _run_with(primitive, first, second, third=None):
    """Each target gets the primitive as its argument. Locals only (no list of threads): the main
    thread's accesses would conflict with the ``call`` of an ``Event.clear`` in a running thread."""
    one = threading.Thread(target=first, args=(primitive,))
    two = threading.Thread(target=second, args=(primitive,))
    three = threading.Thread(target=third, args=(primitive,)) if third is not None else None
    one.start()
    two.start()
    if three is not None:
        three.start()
    one.join()
    two.join()
    if three is not None:
        three.join()


def event_handoff():
    """Publish X, then set the event; the waiter reads X after its wait."""
    global X, A
    X = A = 0

    def publisher(ev):
        global X
        X = 1
        ev.set()

    def waiter(ev):
        global A
        ev.wait()
        A = X

    _run_with(threading.Event(), publisher, waiter)
    FINALS.append(A)


EVENT_HANDOFF = ([[("w", "X", lambda r: 1), ("set", "E")],
                  [("wait", "E"), ("waitend", "E"), ("r", "X", "a"), ("w", "A", lambda r: r["a"])]],
                 {"X": 0, "A": 0, "E": 0}, lambda s: s["A"])


def event_set_clear_set():
    """Three threads: set, clear, set; which one is last decides the flag."""
    ev = threading.Event()

    def setter(e):
        e.set()

    def clearer(e):
        e.clear()

    _run_with(ev, setter, clearer, setter)
    FINALS.append(ev.is_set())


EVENT_SET_CLEAR_SET = ([[("set", "E")], [("call",), ("clear", "E")], [("set", "E")]], {"E": 0},
                       lambda s: bool(s["E"]))


def event_wait_clear():
    """A worker waits for a request and clears the event (event_clear_race's worker, one round); two
    clients set it."""
    ev = threading.Event()

    def worker(e):
        e.wait()
        e.clear()

    def client(e):
        e.set()

    _run_with(ev, worker, client, client)
    FINALS.append(ev.is_set())


EVENT_WAIT_CLEAR = ([[("wait", "E"), ("waitend", "E"), ("call",), ("clear", "E")], [("set", "E")], [("set", "E")]],
                    {"E": 0}, lambda s: bool(s["E"]))


def queue_two_puts():
    """A consumer gets twice from a queue that two producers put one item each into."""
    import queue

    global A, B
    A = B = 0

    def consumer(q):
        global A, B
        A = q.get()
        B = q.get()

    def producer_1(q):
        q.put(1)

    def producer_2(q):
        q.put(2)

    _run_with(queue.Queue(), consumer, producer_1, producer_2)
    FINALS.append((A, B))


QUEUE_TWO_PUTS = ([[("get", "Q", "a"), ("getend", "Q", "a"), ("w", "A", lambda r: r["a"]),
                    ("get", "Q", "b"), ("getend", "Q", "b"), ("w", "B", lambda r: r["b"])],
                   [("put", "Q", 1)], [("put", "Q", 2)]],
                  {"Q": (), "A": 0, "B": 0}, lambda s: (s["A"], s["B"]))


def event_is_set():
    """One thread sets the event, two look at it with ``is_set()``, which reads the flag without the
    lock: before that read was modelled, DPOR saw nothing it conflicts with and ran 1 execution of the
    4 traces (both readers saw the flag set, never clear). Each reader first writes a variable of its
    own: ``is_set`` is no scheduling point, so as a thread's very first step it would run with the
    thread's start, before the starter could go on (the model lets it run any time)."""
    global A, B, Y, Z
    A = B = Y = Z = 0

    def setter(e):
        e.set()

    def checker_a(e):
        global A, Y
        Y = 1
        A = e.is_set()

    def checker_b(e):
        global B, Z
        Z = 1
        B = e.is_set()

    _run_with(threading.Event(), setter, checker_a, checker_b)
    FINALS.append((A, B))


EVENT_IS_SET = ([[("set", "E")], [("w", "Y", lambda r: 1), ("isset", "E", "a"), ("w", "A", lambda r: r["a"])],
                 [("w", "Z", lambda r: 1), ("isset", "E", "b"), ("w", "B", lambda r: r["b"])]],
                {"E": 0, "A": 0, "B": 0, "Y": 0, "Z": 0}, lambda s: (bool(s["A"]), bool(s["B"])))


def thread_is_alive():
    """One thread asks whether another one is still running (``is_alive()``: a read of its end, which
    DPOR ignored before: 1 execution, only True seen)."""
    global A, Y, Z
    A = Y = Z = 0

    def work():
        global Y
        Y = 1

    def checker(other):
        global A, Z
        Z = 1  # not its first step (see event_is_set)
        A = other.is_alive()

    one = threading.Thread(target=work)
    two = threading.Thread(target=checker, args=(one,))
    one.start()
    two.start()
    one.join()
    two.join()
    FINALS.append(A)


# the end of a thread writes its liveness (ALIVE, 1 until then), is_alive() reads it
THREAD_IS_ALIVE = ([[("w", "Y", lambda r: 1), ("w", "ALIVE", lambda r: 0)],
                    [("w", "Z", lambda r: 1), ("r", "ALIVE", "a"), ("w", "A", lambda r: r["a"])]],
                   {"Y": 0, "Z": 0, "ALIVE": 1, "A": 0}, lambda s: bool(s["A"]))


def timed_wait_set():
    """``wait(0.1)`` against a ``set()``: the wait may expire before the set (False), or not (True)."""
    global A
    A = 0

    def waiter(e):
        global A
        A = e.wait(0.1)

    def setter(e):
        e.set()

    _run_with(threading.Event(), waiter, setter)
    FINALS.append(A)


TIMED_WAIT_SET = ([[("twait", "E", "a"), ("twaitend", "E", "a"), ("w", "A", lambda r: r["a"])], [("set", "E")]],
                  {"E": 0, "A": 0}, lambda s: bool(s["A"]))


def timed_wait_expires():
    """The wait expires or not depending on which of two other threads takes a lock first: the
    setter (then the event is set) or the holder, which keeps the lock until the waiter, after its
    wait, sets a second event (then the setter is stuck behind the lock, and the wait expires)."""
    global A
    A = 0
    ev = threading.Event()
    done = threading.Event()
    lock = threading.Lock()

    def waiter(prims):
        global A
        e, d, _ = prims
        A = e.wait(0.1)
        d.set()

    def setter(prims):
        e, _, m = prims
        with m:
            e.set()

    def holder(prims):
        _, d, m = prims
        with m:
            d.wait()

    _run_with((ev, done, lock), waiter, setter, holder)
    FINALS.append(A)


TIMED_WAIT_EXPIRES = (
    [[("twait", "E", "a"), ("twaitend", "E", "a"), ("w", "A", lambda r: r["a"]), ("set", "D")],
     [("acq", "L"), ("set", "E"), ("rel", "L")],
     [("acq", "L"), ("wait", "D"), ("waitend", "D"), ("rel", "L")]],
    {"E": 0, "D": 0, "A": 0}, lambda s: bool(s["A"]))


def main_reads():
    """The main thread reads X between start() and join() of a thread that writes it (its first step
    after start() is the start's handshake, which shows nothing: DPOR ran 3 executions for 2 traces)."""
    global X, A
    X = A = 0

    def work():
        global X
        X = 1

    t = threading.Thread(target=work)
    t.start()
    A = X
    t.join()
    FINALS.append(A)


MAIN_READS = ([[("start", 1), ("r", "X", "a"), ("w", "A", lambda r: r["a"])], [("w", "X", lambda r: 1)]],
              {"X": 0, "A": 0}, lambda s: s["A"])


def main_between_starts():
    """The main thread reads X between the start of a writer of X and the start of a reader of X, then
    writes X (DPOR ran 10 executions for 8 traces and missed 2 of the 8 final states: the main thread's
    write before the first thread's)."""
    global X, Y, A
    X = Y = A = 0

    def writer():
        global X
        X = 1

    def reader():
        global Y
        Y = X

    one = threading.Thread(target=writer)
    two = threading.Thread(target=reader)
    one.start()
    A = X
    two.start()
    X = 2
    one.join()
    two.join()
    FINALS.append((X, Y, A))


MAIN_BETWEEN_STARTS = (
    [[("start", 1), ("r", "X", "a"), ("w", "A", lambda r: r["a"]), ("start", 2), ("w", "X", lambda r: 2)],
     [("w", "X", lambda r: 1)],
     [("r", "X", "y"), ("w", "Y", lambda r: r["y"])]],
    {"X": 0, "Y": 0, "A": 0}, lambda s: (s["X"], s["Y"], s["A"]))


def test_normal_forms_count_the_traces():
    for name in ("lost_update_2x2", "store_buffer", "eight_accesses", "two_locks_one_line"):
        _, (threads, init, observe) = CASES[name]
        finals, traces, _ = brute_force(threads, init, observe)
        forms = [order for order in normal_forms(threads) if simulate(threads, order, init) is not None]
        assert len(forms) == traces
        assert {observe(simulate(threads, order, init)) for order in forms} == finals


def test_dpor_twelve_accesses_per_thread():
    threads, init, observe = TWELVE_ACCESSES
    forms = list(normal_forms(threads))
    finals = {observe(simulate(threads, order, init)) for order in forms}
    assert len(forms) == 328
    assert finals == {(3, y, 3) for y in range(2, 7)}
    strategy = DPOR(0)
    result, seen = explore_all(twelve_accesses, strategy)
    assert result.ok and result.exhausted is True
    assert seen == finals
    assert result.executions == len(forms)
    assert strategy.coverage()["redundant"] == 0


def explore_all(fn, strategy, executions=20_000):
    FINALS.clear()
    result = interlace.explore(fn, strategy=strategy, executions=executions, races="off", shrink=False)
    return result, set(FINALS)


CASES = {
    "lost_update_1x1": (lost_update_1x1, LOST_UPDATE_1X1),
    "lost_update_2x2": (lost_update_2x2, LOST_UPDATE_2X2),
    "store_buffer": (store_buffer, STORE_BUFFER),
    "three_writers_reader": (three_writers_reader, THREE_WRITERS_READER),
    "three_counters": (three_counters, THREE_COUNTERS),
    "eight_accesses": (eight_accesses, EIGHT_ACCESSES),
    "locked_2x2": (locked_2x2, LOCKED_2X2),
    "locked_and_reader": (locked_and_reader, LOCKED_AND_READER),
    "two_locks_one_line": (two_locks_one_line, TWO_LOCKS_ONE_LINE),
    "writer_reader_writer": (writer_reader_writer, WRITER_READER_WRITER),
    "three_increments": (three_increments, THREE_INCREMENTS),
    "locked_three": (locked_three, LOCKED_THREE),
    "locked_then_shared": (locked_then_shared, LOCKED_THEN_SHARED),
    "four_threads": (four_threads, FOUR_THREADS),
    "event_handoff": (event_handoff, EVENT_HANDOFF),
    "event_set_clear_set": (event_set_clear_set, EVENT_SET_CLEAR_SET),
    "event_wait_clear": (event_wait_clear, EVENT_WAIT_CLEAR),
    "queue_two_puts": (queue_two_puts, QUEUE_TWO_PUTS),
    "event_is_set": (event_is_set, EVENT_IS_SET),
    "thread_is_alive": (thread_is_alive, THREAD_IS_ALIVE),
    "timed_wait_set": (timed_wait_set, TIMED_WAIT_SET),
    "timed_wait_expires": (timed_wait_expires, TIMED_WAIT_EXPIRES),
    "main_reads": (main_reads, MAIN_READS),
    "main_between_starts": (main_between_starts, MAIN_BETWEEN_STARTS),
}

#: the brute-force numbers, checked here so that a broken model cannot make the tests vacuous
EXPECTED = {
    "lost_update_1x1": ({1, 2}, 4),
    "lost_update_2x2": ({2, 3, 4}, 34),
    "store_buffer": ({(0, 1), (1, 0), (1, 1)}, 3),
    "locked_2x2": ({4}, 6),
    "locked_and_reader": ({(2, 0), (2, 1), (2, 2)}, 6),
    "two_locks_one_line": ({2, 3, 4}, 34),
    "three_counters": ({(1, 1, 0), (1, 1, 1), (2, 1, 0), (2, 1, 1), (2, 1, 2)}, 12),
    "three_writers_reader": ({(0, 0), (0, 1), (1, 0), (1, 1)}, 4),
    "eight_accesses": ({(2, 2, 2), (2, 3, 2), (2, 4, 2)}, 34),
    # by hand: each write before or after the read of its variable, independently: 2 x 2
    "writer_reader_writer": ({(0, 0), (0, 1), (1, 0), (1, 1)}, 4),
    # by hand: 3! orders of the writes; the read of the thread whose write is k-th can be in any of
    # the k gaps before it (reads commute): 6 x (1 x 2 x 3)
    "three_increments": ({1, 2, 3}, 36),
    # by hand: the 3! orders of the critical sections (the write of Y conflicts with nothing)
    "locked_three": ({(2, 0), (2, 1), (2, 2)}, 6),
    # by hand: 2 orders of the critical sections, times the 36 traces of three increments of Y (each
    # thread's Y comes after its own critical section only, which orders nothing between the Ys)
    "locked_then_shared": ({(2, 1), (2, 2), (2, 3)}, 72),
    # by hand: Y: write before or after the read (2); X: 2 orders of the writes, the second writer's
    # read in one of 2 gaps (2 x 2), the reader's read of X in one of the 3 gaps around the writes
    "four_threads": ({(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 0, 1), (2, 0, 2), (2, 1, 0),
                      (2, 1, 1), (2, 1, 2)}, 2 * 4 * 3),
    # by hand: the wait checks the flag before the set (it blocks, the set wakes it) or after it; X is
    # read after the set either way
    "event_handoff": ({1}, 2),
    # by hand: every order of the two sets, the clear's call and its critical section (call first) is
    # a trace, since every two of them in different threads conflict: 4!/2
    "event_set_clear_set": ({False, True}, 12),
    # by hand: the wait before both sets blocks, the first set x wakes it, the second set goes in one
    # of the 4 gaps after x around the worker's 3 remaining steps: 2 x 4; the wait after a set: the 5!/3!
    # orders of the two sets and the worker's 3 steps minus the 4!/2! with both sets after the wait: 8
    "event_wait_clear": ({False, True}, 16),
    # by hand, for each order of the puts (x first, y second): the first get before x blocks, y comes
    # before its end (1) or after it, before or after the second get (2); the first get after x does
    # not block, y comes before it, between the gets, or after the second (which blocks): 3. 2 x 6
    "queue_two_puts": ({(1, 2), (2, 1)}, 12),
    # by hand: each is_set before or after the set, independently (two reads commute): 2 x 2 (DPOR
    # before is_set was modelled: 1 execution, (True, True) only)
    "event_is_set": ({(False, False), (False, True), (True, False), (True, True)}, 4),
    # by hand: is_alive before or after the end of the thread (before it was modelled: 1 execution)
    "thread_is_alive": ({False, True}, 2),
    # by hand: the wait checks the flag after the set (True), or before it and blocks: then its timeout
    # expires before the set (False: a timeout may end while others can still run) or the set wakes it
    "timed_wait_set": ({False, True}, 3),
    # brute force (the timeout may expire at any point while the wait lasts): the setter first, 6; the
    # holder first, 2 (the wait expires before or after the holder's wait for D)
    "timed_wait_expires": ({False, True}, 8),
    # by hand: the main thread's read of X before or after the thread's write
    "main_reads": ({0, 1}, 2),
    # by hand: main's read m of X, its write w after starting the reader r; the writer's x. x before m:
    # then w and r in either order (2); x after m: the 3! orders of x, w, r (all pairs conflict), each
    # a final state of its own. 2 + 6
    "main_between_starts": ({(2, 2, 1), (2, 1, 1), (2, 2, 0), (2, 1, 0), (1, 1, 0), (1, 2, 0), (2, 0, 0),
                             (1, 0, 0)}, 8),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dpor_matches_brute_force(name):
    fn, (threads, init, observe) = CASES[name]
    finals, traces, _ = brute_force(threads, init, observe)
    assert (finals, traces) == EXPECTED[name]
    strategy = DPOR(0)
    result, seen = explore_all(fn, strategy)
    assert result.ok
    assert result.exhausted is True
    assert seen == finals
    coverage = strategy.coverage()
    # optimal DPOR: every trace exactly once, and no execution that a sleep set blocks, whatever the
    # number of threads (but where a timeout ends early: see REDUNDANT)
    redundant = REDUNDANT.get(name, 0)
    assert coverage["redundant"] == redundant
    assert coverage["classes"] + redundant == result.executions
    assert coverage["classes"] <= traces <= result.executions


#: sound but not optimal: a timeout that ends early moves the virtual clock (a write that calls into the
#: standard library conflict with), so DPOR tells apart executions the model counts as one trace, and
#: its sleep sets block two of them
REDUNDANT = {"timed_wait_expires": 2}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bug", ["event_clear_race", "lost_wakeup"])
def test_dpor_corpus_handoffs_run_no_redundant_execution(bug):
    # An Event's and a Condition's hand-offs: exploration run to exhaustion, going on after each
    # failure (a deadlock cannot be caught inside the program) with the same strategy object.
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
    try:
        from corpus import load
    finally:
        sys.path.pop(0)
    strategy = DPOR(0)
    failures = executions = 0
    while True:
        result = interlace.explore(load(bug), strategy=strategy, executions=5000, races="off", shrink=False)
        executions += result.executions
        if result.ok:
            break
        failures += 1
    assert result.exhausted is True
    assert failures > 0
    coverage = strategy.coverage()
    assert coverage["redundant"] == 0
    assert coverage["classes"] == executions


def test_dpor_is_deterministic():
    runs = []
    for _ in range(2):
        choices: list = []
        FINALS.clear()
        interlace.explore(locked_then_shared, strategy="dpor", executions=1000, races="off", shrink=False,
                          on_execution=lambda i, ex, out=choices: out.append(tuple(ex.choices)))
        runs.append(choices)
    assert runs[0] == runs[1]
    assert len(runs[0]) == 72 and len(set(runs[0])) == 72


@pytest.mark.parametrize("name", ["lost_update_1x1", "store_buffer", "three_writers_reader"])
def test_bounded_dfs_matches_brute_force(name):
    # Unbounded DFS also enumerates the scheduling points of the thread start/join handshakes (the
    # standard library's internal locks): even these programs have ~10^5 schedules. With at most two
    # preemptions every final state of the model is reached.
    fn, (threads, init, observe) = CASES[name]
    finals, _, _ = brute_force(threads, init, observe)
    strategy = DFS(0, max_preemptions=2)
    result, seen = explore_all(fn, strategy)
    assert result.exhausted is True
    assert seen == finals
    coverage = strategy.coverage()
    assert coverage["bound"] == 2
    assert coverage["classes"] == result.executions


def test_unbounded_dfs_reports_an_estimate():
    strategy = DFS(0)
    result, seen = explore_all(lost_update_1x1, strategy, executions=300)
    assert result.exhausted is False
    assert result.executions == 300
    assert seen == {1, 2}
    assert "explored (DFS) of about" in result.coverage_line()


def test_dfs_bound_zero_runs_only_non_preemptive_schedules():
    strategy = DFS(0, max_preemptions=0)
    result, seen = explore_all(lost_update_2x2, strategy)
    assert result.exhausted is True
    assert seen == {4}  # without a preemption no update is lost
    assert strategy.coverage()["bound"] == 0
    strategy = DFS(0, max_preemptions=1)
    result, seen = explore_all(lost_update_2x2, strategy)
    assert result.exhausted is True
    assert seen == {2, 4}  # one preemption loses one or two updates; 3 needs two preemptions
    result, seen = explore_all(lost_update_2x2, DFS(0, max_preemptions=2))
    assert result.exhausted is True
    assert seen == {2, 3, 4}


def lost_update_failing():
    global X
    X = 0

    def work():
        global X
        for _ in range(2):
            X = X + 1

    _run(work, work)
    assert X == 4, f"lost update: {X}"


def locked_failing_never():
    global X
    X = 0

    def work():
        global X
        for _ in range(2):
            with LOCK:
                X = X + 1

    _run(work, work)
    assert X == 4


def test_dpor_finds_the_lost_update_within_the_traces():
    result = interlace.explore(lost_update_failing, strategy="dpor", executions=1000, races="off", shrink=False)
    assert not result.ok
    assert result.failure.kind == "exception"
    assert "lost update" in result.failure.message
    assert result.executions <= 34


def test_dpor_proves_the_locked_version():
    result = interlace.explore(locked_failing_never, strategy="dpor", executions=1000, races="off", shrink=False)
    assert result.ok
    assert result.exhausted is True
    assert result.executions == 6  # the 6 orders of the four critical sections, one execution each
    assert result.coverage["classes"] == 6
    assert result.coverage_line() == "all 6 interleaving classes explored (DPOR), no failure"


def test_budget_too_small_reports_an_estimate():
    result = interlace.explore(lost_update_2x2, strategy="dpor", executions=5, races="off", shrink=False)
    assert result.exhausted is False
    assert result.executions == 5
    assert result.coverage["classes"] == 5
    line = result.coverage_line()
    assert line.startswith("5 interleaving classes explored (DPOR) of about ")
    assert line.endswith("the budget ran out first")


def abba():
    first, second = threading.Lock(), threading.Lock()

    def one():
        with first:
            with second:
                pass

    def two():
        with second:
            with first:
                pass

    _run(one, two)


@pytest.mark.parametrize("name", ["dfs", "dpor", "pos", "portfolio"])
def test_every_strategy_finds_the_abba_deadlock(name):
    result = interlace.explore(abba, strategy=name, seed=3, executions=2000, races="off", shrink=False)
    assert not result.ok
    assert result.failure.kind == "deadlock"


@pytest.mark.parametrize("name", ["pos", "portfolio"])
def test_randomized_strategies_are_deterministic(name):
    runs = []
    for _ in range(2):
        choices: list = []
        interlace.explore(lost_update_2x2, strategy=name, seed=11, executions=30, races="off", shrink=False,
                          on_execution=lambda i, ex, out=choices: out.append(tuple(ex.choices)))
        runs.append(choices)
    assert runs[0] == runs[1]
    assert len(set(runs[0])) > 1


def test_portfolio_finds_the_lost_update_and_proves_the_locked_counter():
    result = interlace.explore(lost_update_failing, strategy=Portfolio(0), executions=1000, races="off",
                               shrink=False)
    assert not result.ok
    assert result.executions <= 100
    proved = interlace.explore(locked_failing_never, strategy=Portfolio(0), executions=1000, races="off")
    assert proved.ok and proved.exhausted
    assert proved.executions == 18  # DPOR's 6 classes on executions 0, 3, ..., 15, the members' between
    assert proved.coverage_line() == "all 6 interleaving classes explored (DPOR), no failure"


def test_make_strategy_knows_the_new_strategies():
    assert isinstance(make_strategy("dfs", 1, max_preemptions=2), DFS)
    assert make_strategy("dfs", 1, max_preemptions=2).max_preemptions == 2
    assert isinstance(make_strategy("dpor", 1), DPOR)
    assert isinstance(make_strategy("pos", 1), POS)
    assert isinstance(make_strategy("portfolio", 1), Portfolio)


def test_dependence_relation():
    assert not dependent(("read", "x"), ("read", "x"))
    assert dependent(("read", "x"), ("write", "x"))
    assert not dependent(("write", "x"), ("write", "y"))
    assert dependent(("write", "dict['a']"), ("read", "dict['b']"))  # a new key resizes the dict
    assert not dependent(("read", "dict['a']"), ("read", "dict['b']"))
    assert dependent(("write", "dict['a']"), ("read", "dict"))
    assert not dependent(("write", "list[0]"), ("write", "list[1]"))
    assert dependent(("write", "list[-1]"), ("write", "list[1]"))
    assert dependent(("acquire", "L"), ("acquire", "L"))
    assert not dependent(("acquire", "L"), ("acquire", "M"))
    assert not dependent(("acquire", "L"), ("write", "x"))
    assert dependent(("call", "f"), ("read", "x"))
    assert dependent((None, None), ("read", "x"))
    assert not dependent(("start", "T"), ("write", "x"))


LOCKED_SCRIPT = """
import threading
lock = threading.Lock()
counter = 0
def inc():
    global counter
    with lock:
        counter = counter + 1
threads = [threading.Thread(target=inc) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert counter == 2
"""


def test_cli_prints_the_coverage_line(tmp_path, capsys):
    from interlace.cli import main

    script = tmp_path / "locked.py"
    script.write_text(LOCKED_SCRIPT)
    code = main(["explore", str(script), "--strategy", "dpor", "--races", "off", "--seed", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[-1] == "all 2 interleaving classes explored (DPOR), no failure"


def main_and_one_thread():
    global X
    X = 0

    def work():
        global X
        X = X + 1

    t = threading.Thread(target=work)
    t.start()
    X = X + 1
    t.join()
    FINALS.append(X)


def test_iterative_dfs_exhausts_a_small_program():
    # model: the thread's read/write against the main thread's read/write (after the start)
    finals, _, _ = brute_force([inc("X"), inc("X")], {"X": 0}, lambda s: s["X"])
    strategy = DFS(0)
    result, seen = explore_all(main_and_one_thread, strategy)
    assert result.ok and result.exhausted is True
    assert seen == finals == {1, 2}
    coverage = strategy.coverage()
    assert coverage["complete"] is True and coverage["bound"] is None
    assert result.coverage_line() == f"all {coverage['classes']} schedules explored (DFS), no failure"
    assert coverage["classes"] == result.executions  # later iterations do not run a schedule again
