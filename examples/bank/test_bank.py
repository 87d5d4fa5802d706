"""Tests of the bank service. Green under plain pytest; ``pytest --interlace`` shows the races."""

from __future__ import annotations

import pytest
from bank import InsufficientFunds, make_bank


@pytest.fixture
def bank():
    bank = make_bank(workers=2)
    bank.open("alice", 100)
    bank.open("bob", 0)
    yield bank
    bank.close()


def test_transfers_never_overdraw(bank):
    # Two payments of 60 from an account holding 100: exactly one may go through.
    payments = [bank.submit_transfer("alice", "bob", 60) for _ in range(2)]
    failed = 0
    for payment in payments:
        try:
            payment.result()
        except InsufficientFunds:
            failed += 1
    assert failed == 1
    assert bank.balance("alice") == 40
    assert bank.total() == 100


def test_balance_is_fresh_after_a_deposit(bank):
    # A statement is read while a deposit is being processed: afterwards the balance is up to date.
    deposit = bank.submit_deposit("alice", 50)
    statement = bank.balance("alice")
    deposit.result()
    assert statement in (100, 150)
    assert bank.balance("alice") == 150


def test_single_transfer(bank):
    bank.transfer("alice", "bob", 30)
    assert (bank.balance("alice"), bank.balance("bob")) == (70, 30)
    with pytest.raises(InsufficientFunds):
        bank.transfer("bob", "alice", 31)
