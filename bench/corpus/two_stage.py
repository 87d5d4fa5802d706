"""Two-stage update under two different locks (after SCTBench's TwoStage): a reader that runs between
the stages sees stage one done and stage two not."""

import threading


class Data:
    first = 0
    second = 0


def program():
    d = Data()
    l1, l2 = threading.Lock(), threading.Lock()

    def writer():
        with l1:
            d.first = 1
        with l2:
            d.second = d.first + 1

    def reader():
        with l1:
            if d.first == 1:
                with l2:
                    assert d.second == 2, "between the two stages"

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
