"""Environment variables: every read of ``os.environ`` (and ``os.getenv``) by a managed thread; the
process ids ``os.getpid()`` and ``os.getppid()``.

``os.environ`` is replaced by a mapping that reads the real environment when recording and the
recorded values when replaying; writes go to the real environment in both cases.

Values of secret-looking variables (:func:`is_secret`: ``AWS_SECRET_ACCESS_KEY``, ``GITHUB_TOKEN``,
``DB_PASSWORD``, ...) are not written to the recording: it keeps ``("!secret", name, digest)``, a
SHA-256 of the value salted with the recording's own random salt. A replay serves the value the
environment has *now* if its digest matches (same secret), and stops with a divergence that says
which variable differs otherwise. ``interlace run --record-secrets`` records every value in clear.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

from . import interlace_calling, unwrap

SECRET_TAG = "!secret"
_SECRET = re.compile(r"KEY|SECRET|TOKEN|PASS(WORD|WD|PHRASE)?|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE|SIGNATURE|"
                     r"DSN|CONN(ECTION)?_?STR", re.IGNORECASE)


def is_secret(name: str) -> bool:
    """Whether an environment variable's name looks like it holds a secret (its value is redacted)."""
    return bool(_SECRET.search(name))


def digest(salt: str, name: str, value: str) -> str:
    return hashlib.sha256(f"{salt}\0{name}\0{value}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def redacted(value: Any) -> bool:
    return type(value) is tuple and len(value) == 3 and value[0] == SECRET_TAG


class RecordedEnviron(MutableMapping):
    def __init__(self, ch: Any, real: Any) -> None:
        self._ch = ch
        self._real = real

    def _lookup(self, key: Any) -> Any:
        return self._real.get(key)

    def __getitem__(self, key: Any) -> str:
        if interlace_calling(1):
            return self._real[key]
        ch = self._ch
        if ch.record_secrets or not isinstance(key, str) or not is_secret(key):
            value = ch.call("environ", self._lookup, key)
        else:
            value = self._secret(key)
        if value is None:
            raise KeyError(key)
        return value

    def _secret(self, key: str) -> str | None:
        ch = self._ch
        ex, me = ch.caller()
        if me is None:
            return self._real.get(key)
        if ch.recording:
            value = self._real.get(key)
            ch.put(me, "environ", None if value is None else (SECRET_TAG, key, digest(ch.salt, key, value)))
            return value
        recorded = unwrap(ch.take(ex, me, "environ"))
        if not redacted(recorded):
            return recorded
        now = self._real.get(key)
        if now is None or digest(ch.salt, key, now) != recorded[2]:
            ch.diverge(ex, me, f"at step {ex.step}: environment variable {key!r} looks secret, so the recording "
                               "keeps only a salted hash of its value, and its value here "
                               f"{'is not set' if now is None else 'differs'}: set it as it was when recording "
                               "(or record with --record-secrets)")
        return now

    def __setitem__(self, key: Any, value: Any) -> None:
        self._real[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._real[key]

    def __iter__(self) -> Iterator[str]:
        if interlace_calling(1):
            return iter(list(self._real))
        return iter(self._ch.call("environ.keys", lambda: list(self._real)))

    def __len__(self) -> int:
        return len(self._ch.call("environ.keys", lambda: list(self._real)))

    def copy(self) -> dict:
        return dict(self.items())

    def __getattr__(self, name: str) -> Any:  # encodevalue, _data, ... for stdlib code
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return f"environ({dict(self.items())!r})"


def install(ch: Any) -> None:
    ch.set(os, "environ", RecordedEnviron(ch, os.environ))
    for name in ("getpid", "getppid"):
        real = getattr(os, name)

        def pid(real: Any = real, kind: str = f"os.{name}") -> int:
            if interlace_calling(1):
                return real()
            return ch.leaf(kind, real)

        pid.__name__ = name
        ch.set(os, name, pid)
