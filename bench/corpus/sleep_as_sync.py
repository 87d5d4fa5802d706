"""Time used as synchronisation: a thread sleeps 50 ms "to let the loader finish" and then uses what
the loader publishes. No scheduler promises that the loader has run by then.

Witness: the loader thread is started but does not run; the user thread's ``time.sleep(0.05)`` ends;
it reads ``config`` (missing): KeyError."""

import threading
import time


def program():
    shared = {}

    def loader():
        shared["config"] = {"debug": False}

    def user():
        time.sleep(0.05)
        assert shared["config"]["debug"] is False

    threads = [threading.Thread(target=loader), threading.Thread(target=user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
