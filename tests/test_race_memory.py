"""The race detector's memory on many threads reading many objects (issue 12): what it keeps per
(thread, location) read, counted as objects, not timed."""

from __future__ import annotations

import gc

import pytest

import interlace
from interlace.drivers import session
from interlace.drivers.script import ScriptRunner

pytestmark = pytest.mark.timeout(120)

#: the shape of more-itertools' concurrent_tee test (bench/bench_real_size.py's readers rows): readers of
#: one linked list of [value, next] cells, extended under a lock by whoever reaches its end; the list is
#: kept alive to the end, so the detector still knows every cell when the execution ends
READERS = """
import sys
import threading

items, readers = int(sys.argv[1]), int(sys.argv[2])
head = [None, None]
grow = threading.Lock()
source = iter(range(items))


def read(cell):
    while True:
        if cell[1] is None:
            with grow:
                if cell[1] is None:
                    value = next(source, None)
                    if value is None:
                        break
                    cell[0], cell[1] = value, [None, None]
        cell = cell[1]


threads = [threading.Thread(target=read, args=(head,)) for _ in range(readers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


#: what the walk below goes into: builtin containers and the detector's own objects (a function they hold,
#: ``_BySite.line_of``, would lead through its module's globals to the whole heap)
_WALKED = (dict, list, tuple, set, frozenset)


def _kept(detector) -> int:
    """How many distinct objects the detector's per-execution state holds (shared ones once)."""
    seen: set[int] = set()
    todo = [detector.locations, detector.groups, detector.last, detector.stretch]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, str)):
            continue
        seen.add(id(obj))
        if isinstance(obj, _WALKED) or type(obj).__module__.startswith("interlace.detect"):
            todo.extend(gc.get_referents(obj))
    return len(seen)


def test_the_detector_keeps_a_few_objects_per_thread_and_location_read(tmp_path, monkeypatch):
    made = []

    class Recording(session.RaceDetector):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(session, "RaceDetector", Recording)
    script = tmp_path / "readers.py"
    script.write_text(READERS)
    counts = {}
    for items in (100, 200):
        made.clear()
        result = interlace.explore(ScriptRunner(str(script), [str(items), "8"]), strategy="pct", seed=1,
                                   executions=1, races="warn")
        assert result.ok and [r.violation for r in result.races if r.violation] == []
        counts[items] = _kept(made[0])
    # each of 8 threads reading 100 more cells (two locations each): 10.5 objects per (thread, cell) (an
    # Access per line of each read, the checks of each location, their dict entries); 20.4 before issue
    # 12's changes (a (tid, location) tuple per last access, a list per run, a line tuple per access, a
    # seg tuple per check, a (tid, key) tuple per check, a set entry per thread that obtained a clock)
    per_pair = (counts[200] - counts[100]) / (100 * 8)
    assert 8 < per_pair < 12, per_pair
