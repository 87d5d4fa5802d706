"""Programs run under both the native accelerator and the pure-Python hooks (tests/test_speedups.py).

Each ``main_*`` builds its state, starts threads and joins them, like a threading test. Between them
they use every hook the accelerator implements: globals, closure cells, attributes and subscripts
read and written, loop back-edges (loops longer than LOOP_POINT_EVERY), and globals that name code.
"""

from __future__ import annotations

import _thread
import collections
import math
import textwrap
import threading
from time import sleep as early_sleep  # bound before interlace is active: substituted at every call

counter = 0
lock = threading.Lock()
G0 = G1 = G2 = G3 = G4 = G5 = G6 = G7 = 0
TABLE = {"a": 0, 1: 0, (2, "b"): 0, 3.5: 0, None: 0}
EARLY_LOCK = threading.Lock()  # a real lock made before any execution: shadowed at every call and with


def _increase(m: int) -> None:
    global counter
    for _ in range(m):
        counter = counter + 1


def main_article() -> None:
    """The seed article's program at a small size: 3 threads x 300 unsynchronised increments."""
    global counter
    counter = 0
    threads = [threading.Thread(target=_increase, args=(300,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _locked(m: int) -> None:
    global counter
    for _ in range(m):
        with lock:
            counter = counter + 1


def main_locked() -> None:
    """A correct locked counter: 2 threads x 60."""
    global counter
    counter = 0
    threads = [threading.Thread(target=_locked, args=(60,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter == 120


class Box:
    def __init__(self) -> None:
        self.value = 0
        self.items = [0] * 4


def main_loops() -> None:
    """Loops of more than 1024 iterations on locals between shared accesses, a closure cell,
    attributes and subscripts."""
    box = Box()
    total = 0

    def work(k: int) -> None:
        nonlocal total
        acc = 0
        for i in range(1500):  # a back-edge point every LOOP_POINT_EVERY iterations
            acc += i % 7
        for i in range(40):
            box.value = box.value + k
            box.items[i % 4] = box.items[i % 4] + 1
            total = total + acc % 3
        while acc > 0:
            acc -= 1000

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _reader(n: int) -> None:
    global G0, G1, G2, G3
    seen = 0
    for i in range(n):
        # globals naming a module, a class, a function and a builtin function are code, not data
        seen += math.floor(G0 + G1 + G2 + G3 + G4 + G5 + G6 + G7)
        seen += len(collections.Counter.__name__) + (Box is not None) + (_increase is not None)
        if i % 3 == 0:
            G0 = G0 + 1
        TABLE["a"] = TABLE["a"] + 1
        TABLE[1] = TABLE[1] + TABLE[(2, "b")] + TABLE[3.5] + TABLE[None]
        G1 = seen % 5


def main_globals() -> None:
    """Many globals read, some written; a dict with keys of several types."""
    threads = [threading.Thread(target=_reader, args=(50,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main_bank() -> None:
    """The bank example (examples/bank): two transfers that may both pass the balance check."""
    from bank import InsufficientFunds, make_bank

    bank = make_bank(workers=2)
    bank.open("alice", 100)
    bank.open("bob", 0)
    payments = [bank.submit_transfer("alice", "bob", 60) for _ in range(2)]
    for payment in payments:
        try:
            payment.result()
        except InsufficientFunds:
            pass
    bank.balance("alice")
    bank.close()


class Tally:
    def __init__(self) -> None:
        self.n = 0
        self.seen: list = []
        self.log: dict = {}
        self.queue: collections.deque = collections.deque()
        self.marks: set = set()

    def bump(self, k: int) -> int:
        self.n = self.n + k
        return self.n


class Marker:
    pass


def _twice(x: int) -> int:
    return x * 2


def _caller(tally: Tally, lock, k: int) -> None:
    """Every kind of callee the call hook tells apart, and with-statements, truth tests, ``in`` and
    augmented assignments of containers and of other values."""
    total = 0
    mine: list = []
    for i in range(30):
        tally.bump(k)  # a bound method of instrumented code: no point
        total += _twice(i) + abs(-i) + max(i, k)  # instrumented, pure builtins
        total += b"ab".upper().count(b"A") + "x-y".count("-")  # builtin methods: call points
        total += textwrap.dedent("  a").count("a")  # a Python function of the standard library: a call point
        collections.OrderedDict(a=i)  # a class of the standard library
        Marker()  # a class of the code under test
        tally.seen.append(i)  # a container's method: an access of the whole container
        tally.log.update(last=i)  # ... with keyword arguments
        tally.queue.append(i)
        if len(tally.queue) > 3:  # len: an access named by its argument
            tally.queue.popleft()
        tally.log.get("last")  # a keyed dict method: an access of that key
        tally.marks.add(i % 4)
        tally.seen.index(i)
        tally.seen.sort()  # a list's sort: a walk of it
        bytearray(b"xyz").index(b"y")  # a builtin method that is no access
        with EARLY_LOCK:  # substituted: the execution's stand-in
            total += 1
        with lock:
            tally.n = tally.n + 1
        early_sleep(0)  # substituted: the virtual clock
        if tally.seen and i in tally.seen and k in (1, 2) and i not in mine:
            mine += [i]
        total -= 1


def main_calls() -> None:
    """Calls of every kind of callee from two threads, with locks made before and during the execution."""
    tally = Tally()
    lock = threading.Lock()
    threads = [threading.Thread(target=_caller, args=(tally, lock, k)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Registry(dict):
    """A dict subclass: the fast path leaves describing its accesses to Python."""


def _shapes(k: int, reg: Registry, view: memoryview, cells: list, keyed: dict) -> None:
    for i in range(6):
        reg[k] = reg.get(k, 0) + i  # a dict subclass's item, and a call of its method
        view[i % 4] = (view[i % 4] + k) % 256  # a memoryview's item: the buffer it exposes
        cells.append(i)  # a whole-container access
        cells[0] = cells[-1] + len(cells)
        keyed[(k, "x")] = keyed.get((k, "x"), 0) + 1  # a tuple key
        keyed[b"raw"] = keyed.get(b"raw", 0) + 1  # a bytes key
        keyed[True] = i  # a bool key
        keyed["*"] = i  # the key that names a whole container elsewhere
        # augmented assignments: of an attribute, an item, a container changed in place, a memoryview's item
        reg.total = getattr(reg, "total", 0)
        reg.total += k
        keyed["*"] += 1
        keyed.setdefault("log", [])
        keyed["log"] += [k]
        reg.seen = getattr(reg, "seen", [])
        reg.seen += [i]
        view[0] += 1
        cells[1:2] += [k]
        # tests and walks of containers: a dict's key, a tuple key, a list, a dict subclass
        if (k, "x") in keyed and "log" in keyed and i in cells and k not in reg:
            keyed["seen"] = sum(c for c in cells if c > 0)


def main_shapes() -> None:
    """Accesses whose locations are described in every way the trace shows (DPOR keeps it)."""
    reg, view, cells, keyed = Registry(), memoryview(bytearray(4)), [0], {}
    threads = [threading.Thread(target=_shapes, args=(k, reg, view, cells, keyed)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main_names() -> None:
    """One thread alone, whose accesses the C fast path notes in the kept trace, describing each (it
    caches the descriptions): an attribute of a class renamed half-way, keys equal but of other types."""
    box, keyed = type("Box", (), {})(), {}
    for i in range(6):
        box.v = i
        keyed[1] = keyed.get(1, 0) + i
        keyed[True] = i
        keyed[1.0] = i
        keyed["k"] = i
        if i == 2:
            type(box).__name__ = "Renamed"


def main_service() -> None:
    """asyncio: workers taking requests from a Queue, a cache under a Lock (bench/bench_asyncio.py's program
    at a small size)."""
    import asyncio

    async def serve() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        lock = asyncio.Lock()
        cache: dict = {}
        served = {"n": 0}

        async def worker() -> None:
            while True:
                key = await queue.get()
                if key is None:
                    return
                async with lock:
                    if key not in cache:
                        await asyncio.sleep(0)
                        cache[key] = key * 2
                served["n"] += 1

        workers = [asyncio.create_task(worker()) for _ in range(3)]
        for i in range(20):
            await queue.put(i % 5)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)

    asyncio.run(serve())


def _one_after_another(target, args_list) -> None:
    """Real threads that run one after another, ordered by raw ``_thread`` locks the detectors do
    not see: detector-only mode then finds the same races every time. Each thread waits for ``go``
    until ``start()`` has returned: its wait for the thread's start is a synchronisation the detectors
    see, which empties detect-only's told filter, and it must not land at a random point of the
    thread's work."""
    from time import sleep as _sleep

    threads = []
    for args in args_list:
        go, done = _thread.allocate_lock(), _thread.allocate_lock()
        go.acquire()
        done.acquire()

        def run(args=args, go=go, done=done) -> None:
            go.acquire()
            target(*args)
            done.release()

        t = threading.Thread(target=run)
        threads.append(t)
        t.start()
        go.release()
        done.acquire()  # the thread has finished its work; nothing orders it before the next one
        while t.is_alive():  # ... and its end (a synchronisation the detectors see) came before the next start
            _sleep(0.001)
    for t in threads:
        t.join()


def detect_article() -> None:
    _one_after_another(_increase, [(300,), (300,), (300,)])


def detect_globals() -> None:
    _one_after_another(_reader, [(50,), (50,)])


def detect_loops() -> None:
    box = Box()
    cell = [0]

    def work(k: int) -> None:
        acc = 0
        for i in range(1500):
            acc += i % 7
        for i in range(40):
            box.value = box.value + k
            box.items[i % 4] = box.items[i % 4] + 1
            cell[0] = cell[0] + acc % 3

    _one_after_another(work, [(1,), (2,)])


PROGRAMS = {name[5:]: fn for name, fn in globals().items() if name.startswith("main_")}
#: for detector-only mode (real threads)
DETECT = {name[7:]: fn for name, fn in globals().items() if name.startswith("detect_")}
