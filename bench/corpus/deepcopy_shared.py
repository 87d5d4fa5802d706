"""A standard-library helper that iterates shared data: ``copy.deepcopy`` of a registry another
thread adds to. ``deepcopy`` is Python code that walks the dict one item at a time, copying each
value, so the interpreter can switch threads between items.

Witness: ``deepcopy`` copies the first entry; the other thread adds ``"c"``; ``deepcopy`` asks the
dict for its next item: RuntimeError, dictionary changed size during iteration."""

import copy
import threading


def program():
    registry = {"a": [1], "b": [2]}
    snapshots = []

    def snapshot():
        snapshots.append(copy.deepcopy(registry))

    def register():
        registry["c"] = [3]

    threads = [threading.Thread(target=snapshot), threading.Thread(target=register)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
