"""Lazy initialisation in a three-stage pipeline (after SCTBench's lazy01 and the JaConTeBe
singleton bugs): a parser, a checker and a writer each call ``codec()``, which builds a shared table
on first use without a lock and publishes it *before* filling it ("nobody uses it yet"). The stages
hand items on through queues, so the checker and the writer first run while the parser is busy.

Witness: the parser's ``codec()`` finds no table, publishes an empty dict, and is preempted before
filling it; the checker starts, its ``codec()`` sees the published table and looks up ``"utf8"`` in
it: KeyError (or the writer, looking up ``"latin1"``, between the two stores). The preemption must
fall between two statements of one call of the first of three threads, before it fills the table."""

import queue
import threading


class Codecs:
    table = None


def program():
    codecs = Codecs()
    parsed, checked = queue.Queue(), queue.Queue()
    out = []

    def codec():
        if codecs.table is None:
            table = {}
            codecs.table = table  # the bug: published before it is filled
            table["utf8"] = "UTF-8"
            table["latin1"] = "ISO-8859-1"
        return codecs.table

    def parser():
        for i in range(3):
            parsed.put((i, codec()["utf8"]))
        parsed.put(None)

    def checker():
        name = codec()["utf8"]
        while (item := parsed.get()) is not None:
            assert item[1] == name
            checked.put(item)
        checked.put(None)

    def writer():
        name = codec()["latin1"]
        while (item := checked.get()) is not None:
            out.append((item[0], name))

    threads = [threading.Thread(target=f) for f in (parser, checker, writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 3
