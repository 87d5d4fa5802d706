"""Torn read among many threads: 10 writers each store ``p.a = i`` then ``p.b = i``; a checker reads
a then b and asserts they are equal.

Witness: writer 3 stores ``p.a = 3``; the checker reads a (3) and b (0, or another writer's value);
the assertion fails. Every other order of the checker's two reads against each writer's two stores
passes: the checker has to be scheduled inside one writer's window while ten threads compete."""

from ._torn import torn_read


def program():
    torn_read(10)
