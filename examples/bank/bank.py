"""A small in-memory bank service: accounts, a balance cache and a worker pool for transfers.

It is the kind of code that passes its tests for months: every test below is green under plain
``pytest``, because CPython switches threads only every 5 ms and the racy windows are a few
bytecodes wide. ``pytest --interlace`` finds both bugs at once (see ``README.md`` in this folder).

Set ``BANK_FIXED=1`` in the environment to get :class:`FixedBank` from :func:`make_bank`: the same
service with the fix described in the README.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor


class InsufficientFunds(Exception):
    pass


class Bank:
    """Accounts in cents. ``balance()`` is served from a cache; transfers run on a worker pool."""

    def __init__(self, workers: int = 4) -> None:
        self._accounts: dict[str, int] = {}
        self._cache: dict[str, int] = {}  # name -> balance, filled on demand, dropped on change
        self._lock = threading.Lock()  # guards opening accounts
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bank-worker")

    # -- accounts ----------------------------------------------------------------------------------------

    def open(self, name: str, deposit: int = 0) -> None:
        with self._lock:
            if name in self._accounts:
                raise ValueError(f"account {name!r} exists")
            self._accounts[name] = deposit

    def balance(self, name: str) -> int:
        cached = self._cache.get(name)
        if cached is None:
            cached = self._accounts[name]
            self._cache[name] = cached  # BUG: may store a balance a transfer has just changed
        return cached

    def total(self) -> int:
        return sum(self.balance(name) for name in list(self._accounts))

    # -- money moves -------------------------------------------------------------------------------------

    def transfer(self, src: str, dst: str, amount: int) -> None:
        if self.balance(src) < amount:  # BUG: check-then-act, another transfer can run in between
            raise InsufficientFunds(f"{src} cannot pay {amount}")
        self._accounts[src] -= amount
        self._accounts[dst] += amount
        self._invalidate(src, dst)

    def deposit(self, name: str, amount: int) -> None:
        self._accounts[name] += amount
        self._invalidate(name)

    def _invalidate(self, *names: str) -> None:
        for name in names:
            self._cache.pop(name, None)

    # -- the worker pool ---------------------------------------------------------------------------------

    def submit_transfer(self, src: str, dst: str, amount: int) -> Future:
        return self._pool.submit(self.transfer, src, dst, amount)

    def submit_deposit(self, name: str, amount: int) -> Future:
        return self._pool.submit(self.deposit, name, amount)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class FixedBank(Bank):
    """The fix: one lock makes "check the balance, move the money, drop the cache" a single step,
    and the cache is filled under the same lock, so it can never hold a balance older than the
    last transfer."""

    def balance(self, name: str) -> int:
        with self._lock:
            cached = self._cache.get(name)
            if cached is None:
                cached = self._accounts[name]
                self._cache[name] = cached
            return cached

    def transfer(self, src: str, dst: str, amount: int) -> None:
        with self._lock:
            if self._accounts[src] < amount:
                raise InsufficientFunds(f"{src} cannot pay {amount}")
            self._accounts[src] -= amount
            self._accounts[dst] += amount
            self._invalidate(src, dst)

    def deposit(self, name: str, amount: int) -> None:
        with self._lock:
            self._accounts[name] += amount
            self._invalidate(name)


def make_bank(workers: int = 4) -> Bank:
    """The bank the tests use: :class:`Bank`, or :class:`FixedBank` when ``BANK_FIXED=1``."""
    fixed = os.environ.get("BANK_FIXED", "") not in ("", "0")
    return (FixedBank if fixed else Bank)(workers)
