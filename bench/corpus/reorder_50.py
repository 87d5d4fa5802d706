"""Reorder with 50 threads (SCTBench's reorder_50): 49 setters each store ``p.a = 1`` then
``p.b = -1``; a checker, started last, reads a then b and asserts ``(a, b)`` is ``(0, 0)`` or
``(1, -1)``.

Witness: each setter, once started, waits before its first store while the main thread starts the
next one (the newest setter runs its start handshake, then the main thread goes on); the main thread
starts the checker and waits in ``join``; the checker reads a (0) and is preempted before reading b;
a setter runs both stores; the checker reads b (-1): ``a=0 b=-1``. Once any setter has finished, b is
-1 for good, so every setter must be held before its first store while the main thread starts the
other 48 (``Thread.start()`` waits for the new thread's handshake, during which the started setters
could run), and the checker preempted at one exact step."""

from ._reorder_many import reorder


def program():
    reorder(49)
