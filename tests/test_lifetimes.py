"""The native watch of object deaths (``interlace._lifetimes``), and the race detector's use of it: the
detector knows objects by address only, so a dead object's accesses must not meet a new object that
gets its address (a false race), and what it knew of dead objects must not pile up."""

from __future__ import annotations

import collections
import gc
import threading

import pytest
from test_races import _DetectorHost

from interlace.detect import lifetimes
from interlace.detect.races import RaceDetector
from interlace.runtime.state import ThreadState

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(lifetimes.native() is None,
                       reason="interlace._lifetimes is not built (or INTERLACE_PURE=1): the detector falls back"),
]


class _Plain:
    pass


class _Slotted:
    __slots__ = ("x",)


class _MyList(list):
    pass


class _Revenant:
    kept: list = []

    def __del__(self) -> None:
        _Revenant.kept.append(self)  # resurrected: not dead


def test_a_watch_moves_each_watched_object_that_dies_to_died_in_the_order_of_death():
    watch = lifetimes.native().Watch()
    objects = [_Plain(), _Slotted(), [1], {"a": 1}, {1}, bytearray(b"x"), collections.deque([1]), _MyList()]
    unwatched = [_Plain(), [2]]
    ids = [id(o) for o in objects]
    for i in ids:
        watch.add(i)
    watch.add(ids[0])  # twice is once
    assert len(watch) == len(objects)
    while objects:
        objects.pop()
    del unwatched
    assert watch.died == ids[::-1]
    assert len(watch) == 0
    watch.died.clear()
    revenant = _Revenant()
    watch.add(id(revenant))
    del revenant
    assert watch.died == [] and len(watch) == 1
    _Revenant.kept.clear()
    gc.collect()


def test_a_watch_discards_and_clears_and_grows_and_two_watches_are_both_told():
    first, second = lifetimes.native().Watch(), lifetimes.native().Watch()
    many = [[i] for i in range(5000)]  # far past the first capacity (64)
    for items in many:
        first.add(id(items))
    assert len(first) == 5000
    second.add(id(many[7]))
    first.discard(id(many[8]))
    dead = (id(many[7]), id(many[9]))
    del many[7:10]
    assert sorted(first.died) == sorted(dead) and second.died == [dead[0]]
    assert len(first) == 5000 - 1 - 2  # one discarded, two dead
    first.clear()
    assert len(first) == 0 and first.died == []
    del many
    assert first.died == [] and second.died == [dead[0]]
    with pytest.raises(ValueError, match="not an object's id"):
        first.add(0)


def _host(threads: int) -> _DetectorHost:
    class Ex(_DetectorHost):
        pass

    Ex.threads = [ThreadState(t, threading.current_thread()) for t in range(threads)]
    return Ex()


def _lost_update_then_a_new_list_at_its_address(detector: RaceDetector) -> list:
    """Thread 0 makes ``items[0] = items[0] + 1`` on a list that then dies; thread 1, not ordered with it,
    writes item 0 of a new list at the same address (what a dead local list and a new one do in two
    threads). Returns the races the detector reported."""
    ex = _host(2)
    detector.begin(ex)
    one, two = ex.threads
    site = (__file__, 1, 0)
    items = [0]
    old = id(items)
    detector.access(ex, one, "read", items, 0, site, False)
    detector.access(ex, one, "write", items, 0, site, False)
    del items
    fresh = [0]  # the list free list hands the same address to the next list
    if id(fresh) != old:
        pytest.skip("the allocator did not reuse the address")
    detector.access(ex, two, "write", fresh, 0, (__file__, 2, 0), False)
    return detector.races


def test_a_dead_list_s_accesses_do_not_meet_a_new_list_at_its_address():
    assert _lost_update_then_a_new_list_at_its_address(RaceDetector()) == []
    blind = RaceDetector()
    blind.watch, blind.died = None, []  # as without the native module: the dead list's entries are met
    races = _lost_update_then_a_new_list_at_its_address(blind)
    assert [(r.violation, r.what) for r in races] == [("lost update", "list[0]")]


def test_the_detector_forgets_objects_that_died():
    ex = _host(1)
    detector = RaceDetector()
    detector.begin(ex)
    site = (__file__, 1, 0)
    kept = []
    for i in range(1000):
        node = _Plain()
        detector.access(ex, ex.threads[0], "write", node, "value", site, False)
        node.value = i
        if i % 100 == 0:
            kept.append(node)
    del node
    detector.access(ex, ex.threads[0], "read", kept[0], "value", site, False)
    assert sorted(detector.objects) == sorted(id(n) for n in kept)
    assert len(detector.locations) == len(kept)


def _two_writers():
    box = {"n": 0}

    def add():
        box["n"] = box["n"] + 1

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_an_execution_watches_what_its_detector_knows_and_nothing_once_it_ended():
    import interlace
    from interlace.detect import races as races_module

    sizes = []
    real_end = races_module.RaceDetector.end

    def end(self, ex):
        sizes.append(len(self.watch) + len(self.died))  # (box died with its function: moved to died)
        real_end(self, ex)

    races_module.RaceDetector.end = end
    try:
        result = interlace.explore(_two_writers, executions=1, seed=1, races="warn")
    finally:
        races_module.RaceDetector.end = real_end
    assert [r.violation for r in result.races] == ["lost update"]
    assert sizes and sizes[0] >= 1  # box at least
    assert len(lifetimes.watch()) == 0


def _write_release_then_acquire_a_new_lock_at_its_address(detector: RaceDetector) -> list:
    """Thread 0 writes ``shared.x`` and releases a lock that then dies; thread 1 acquires a new lock at the
    same address and writes ``shared.x``: nothing orders the two writes."""
    ex = _host(2)
    detector.begin(ex)
    one, two = ex.threads
    shared = _Plain()
    detector.access(ex, one, "write", shared, "x", (__file__, 1, 0), False)
    shared.x = 1  # (as the hook does: tell, then store)
    lock = _Slotted()
    old = id(lock)
    detector.sync(ex, "release", one, lock)
    del lock
    fresh = _Slotted()
    if id(fresh) != old:
        pytest.skip("the allocator did not reuse the address")
    detector.sync(ex, "acquire", two, fresh)
    detector.access(ex, two, "write", shared, "x", (__file__, 2, 0), False)
    return detector.races


def test_a_dead_lock_s_release_orders_nothing_for_a_new_lock_at_its_address():
    assert [r.what for r in _write_release_then_acquire_a_new_lock_at_its_address(RaceDetector())] == ["_Plain.x"]
    blind = RaceDetector()
    blind.watch, blind.died = None, []
    assert _write_release_then_acquire_a_new_lock_at_its_address(blind) == []  # the dead lock's edge hid it
