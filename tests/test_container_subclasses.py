"""Subclasses of builtin containers (``OrderedDict``, ``Counter``, ``defaultdict``, a program's own
``class Cache(dict)``) have a container's items and an object's attributes: a check-then-act on their
items fails like one on a plain dict, and their attributes never race with their items."""

from __future__ import annotations

import collections
import threading

import pytest

import interlace

pytestmark = pytest.mark.timeout(120)


def _run(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class Cache(dict):
    def __init__(self):
        super().__init__()
        self.hits = 0


class Jobs(list):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


class Registry(dict):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def add(self, key, value):
        with self.lock:
            self[key] = value

    def drop_all(self):
        with self.lock:
            self.clear()


MAKERS = {"dict": dict, "OrderedDict": collections.OrderedDict, "Counter": collections.Counter,
          "defaultdict": lambda: collections.defaultdict(int), "Cache": Cache}


def _check_then_remove(make):
    def program():
        d, out = make(), []
        d["k"] = 1

        def reader():
            if "k" in d:
                out.append(d["k"])

        def remover():
            d.pop("k", None)

        _run(reader, remover)

    return program


@pytest.mark.parametrize("name", MAKERS)
def test_a_check_then_act_on_an_item_fails_on_every_dict_subclass(name):
    # one serial run (the check held): the removal between check and use is predicted
    result = interlace.explore(_check_then_remove(MAKERS[name]), executions=1, seed=0, strategy="dfs")
    assert result.failure is not None and result.failure.kind == "race", result.report()
    failing = [(r.violation, r.what, r.current.kind, r.previous.kind) for r in result.races if r.fails]
    assert failing == [("check-then-act", f"{name}['k']", "delete", "read")]


def test_attributes_of_a_dict_subclass_do_not_race_with_its_items():
    def program():
        registry = Registry()
        _run(lambda: registry.add("a", 1), registry.drop_all, lambda: registry.add("b", 2))

    result = interlace.explore(program, executions=30, seed=1)
    assert result.ok, result.report()
    assert result.races == []


def test_attributes_of_a_list_subclass_are_not_its_contents():
    def program():
        jobs, done = Jobs(), []

        def push(n):
            with jobs.lock:
                jobs.append(n)

        def take():
            with jobs.lock:
                if jobs:
                    done.append(jobs.pop())

        _run(lambda: push(1), take, lambda: push(2))

    result = interlace.explore(program, executions=30, seed=1)
    assert result.ok, result.report()
    assert result.races == []


def test_a_lost_update_on_a_counter_item_is_found_and_its_attribute_stays_apart():
    def program():
        counts = Cache()

        def bump():
            counts["n"] = counts.get("n", 0) + 1
            counts.hits = 1  # an attribute written by both: a note, never a lost update

        _run(bump, bump)

    result = interlace.explore(program, executions=1, seed=0, strategy="dfs")
    assert result.failure.kind == "race"
    assert [(r.violation, r.what) for r in result.races if r.fails] == [("lost update", "Cache['n']")]
    assert [r.what for r in result.races if r.note] == ["Cache.hits"]


@pytest.mark.parametrize("name", ["dict", "Cache"])
def test_a_key_error_raised_by_a_subscript_replays_and_shrinks(name):
    # the subscript raises inside interlace's hook (its Python twin when values are noted for the report):
    # the failure is still the same one, so the replay for the report reproduces it
    result = interlace.explore(_check_then_remove(MAKERS[name]), executions=200, seed=1, strategy="pct",
                               races="off")
    assert result.failure is not None and result.failure.message == \
        "KeyError in thread 'Thread-1 (reader)': 'k'"
    assert not any("did not reproduce" in d for d in result.failure.details), result.failure.details
    again = interlace.replay(_check_then_remove(MAKERS[name]), result.schedule, races="off")
    assert again.failure is not None and again.failure.message == result.failure.message


def _counter_updates(locked):
    def program():
        counts, lock = collections.Counter(), threading.Lock()

        def count(words):
            if locked:
                with lock:
                    counts.update(words)
            else:
                counts.update(words)

        _run(lambda: count(["a", "b"]), lambda: count(["a"]))
        with lock:
            assert counts.most_common(1) == [("a", 2)]

    return program


def test_counter_update_from_two_threads_is_a_lost_update_that_can_happen_under_the_gil():
    # Counter.update is Python code (uninstrumented): a read of all the counts, then their write
    result = interlace.explore(_counter_updates(locked=False), executions=1, seed=0, strategy="dfs")
    assert result.failure.kind == "race"
    [race] = [r for r in result.races if r.fails]
    assert (race.violation, race.what, race.current.kind, race.previous.kind) == \
        ("lost update", "Counter", "read", "write")
    assert race.gil is True and "can be switched out between its accesses" in race.gil_reason


def test_counter_update_under_a_lock_is_no_race():
    result = interlace.explore(_counter_updates(locked=True), executions=20, seed=1)
    assert result.ok, result.report()
    assert result.races == []


def test_the_known_containers_are_those_whose_methods_are_known():
    # runtime/containers.py maps a subclass to a container of calls.CONTAINER_METHODS: the two lists agree
    from interlace.runtime.calls import CONTAINER_METHODS
    from interlace.runtime.containers import KNOWN, container_base

    assert set(KNOWN) == set(CONTAINER_METHODS)
    assert container_base(type("Mine", (collections.OrderedDict,), {})) is collections.OrderedDict
    assert container_base(tuple) is None
