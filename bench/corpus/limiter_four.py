"""A limit of three concurrent downloads that lets four through: the limiter checks ``active < 3``
and then increments ``active`` without a lock. A meter (correctly locked) records how many downloads
are really running; the program asserts it never exceeds three. Four downloaders, so the meter can
reach four only if every one of them is inside at once: three preemptions, among four threads, at
exact places.

Witness: D1 checks (active 0) and reads ``active`` (0), preempted; D2 checks, increments (1), enters
the meter (inside 1), preempted; D1 writes active = 1 (D2's increment lost) and enters (inside 2),
preempted; D3 checks (1 < 3), increments (2), enters (inside 3), preempted; D4 checks (2 < 3),
increments, enters: inside is 4 and the assertion fails. Every download leaves at once when not
preempted, so each of D1, D2 and D3 must be stopped inside."""

import threading

LIMIT = 3


class Limiter:
    active = 0


def program():
    limiter = Limiter()
    meter_lock = threading.Lock()
    meter = {"inside": 0, "peak": 0}

    def download():
        for _ in range(20):
            if limiter.active < LIMIT:  # the bug: check and increment are not atomic
                limiter.active = limiter.active + 1
                break
        else:
            return  # busy: try later
        with meter_lock:
            meter["inside"] += 1
            meter["peak"] = max(meter["peak"], meter["inside"])
        with meter_lock:
            meter["inside"] -= 1
        limiter.active = limiter.active - 1

    threads = [threading.Thread(target=download) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert meter["peak"] <= LIMIT, f"{meter['peak']} downloads at once"
