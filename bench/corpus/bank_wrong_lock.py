"""A bank whose transfers lock the wrong account (after SCTBench's account/bank programs): a
transfer takes the lock of the account it debits only, and credits the other account under that
same lock. Three tellers move money around a ring of three accounts, two transfers each, and an
audit at the end checks that no money was made or lost.

Witness: teller 1 (A -> B, under A's lock) reads B's balance (100) and is preempted; teller 2
(B -> C, under B's lock) debits B (90); teller 1 writes B = 100 + 10: teller 2's debit is lost and
the audit finds 310 instead of 300. Each teller holds *a* lock at every access, so a reader of the
code sees "every access is locked"."""

import threading


class Account:
    def __init__(self, balance):
        self.balance = balance
        self.lock = threading.Lock()


def transfer(src, dst, amount):
    with src.lock:  # the bug: dst is written under src's lock, not dst's
        if src.balance < amount:
            return
        src.balance = src.balance - amount
        dst.balance = dst.balance + amount


def program():
    accounts = [Account(100) for _ in range(3)]

    def teller(i):
        for _ in range(2):
            transfer(accounts[i], accounts[(i + 1) % 3], 10)

    threads = [threading.Thread(target=teller, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(a.balance for a in accounts)
    assert total == 300, f"audit: {total} in the bank, 300 expected"
