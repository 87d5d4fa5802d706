"""Randomness: ``os.urandom`` (and so ``uuid.uuid4``, ``secrets``, ``random.SystemRandom``), new
``random.Random()`` instances seeded from the OS, ``uuid.uuid1``.

The ``random`` module's global generator is reseeded from the recording's ``random_seed`` before the
program starts (:func:`seed_global`), so every draw from it is a pure function of that seed and the
order of the draws -- which the recorded schedule fixes. Recording each draw would only repeat that.
"""

from __future__ import annotations

import os
import random
import uuid
from typing import Any

from . import interlace_calling

_real_urandom = os.urandom
_real_seed = random.Random.seed
_real_uuid1 = uuid.uuid1


def seed_global(seed: int) -> None:
    random.seed(seed)


def install(ch: Any) -> None:
    leaf = ch.leaf

    def urandom(size: int) -> bytes:
        return leaf("os.urandom", _real_urandom, size)

    ch.set(os, "urandom", urandom)
    ch.set(random, "_urandom", urandom)
    if hasattr(os, "getrandom"):
        real_getrandom = os.getrandom

        def getrandom(size: int, flags: int = 0) -> bytes:
            return ch.call("os.getrandom", real_getrandom, size, flags)

        ch.set(os, "getrandom", getrandom)

    def seed(self: random.Random, a: Any = None, version: int = 2) -> None:
        if a is None:
            ex, me = ch.caller()
            if me is not None and not interlace_calling():
                a = ch.call("random.Random()", lambda: int.from_bytes(_real_urandom(16), "big"))
        _real_seed(self, a, version)

    ch.set(random.Random, "seed", seed)

    def uuid1(node: Any = None, clock_seq: Any = None) -> uuid.UUID:
        return uuid.UUID(int=ch.call("uuid.uuid1", lambda: _real_uuid1(node, clock_seq).int))

    ch.set(uuid, "uuid1", uuid1)
