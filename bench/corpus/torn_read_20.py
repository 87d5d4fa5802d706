"""Torn read among many threads: ``torn_read_10`` with 20 writers.

Witness: writer 7 stores ``p.a = 7``; the checker reads a (7) and b (not 7); the assertion fails.
With 21 threads a strategy that spreads its preemptions over all of them rarely puts the checker
inside one writer's window."""

from ._torn import torn_read


def program():
    torn_read(20)
