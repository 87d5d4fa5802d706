"""A lost update at the end of a long loop: a batch job reads a shared rate 200 times (no write, no
lock: a long run of steps without a switch), then adds its total to a balance without a lock, while a
deposit adds 1 to the same balance.

Witness: the batch runs its 200 reads and reads the balance (0); the deposit reads 0 and writes 1;
the batch writes 400: the deposit is lost. A strategy that preempts a thread after a fixed number of
steps runs the short deposit long before the batch reaches its update, and never finds it."""

import threading


class Config:
    rate = 2


class Account:
    balance = 0


def program():
    cfg = Config()
    acct = Account()

    def batch():
        total = 0
        for _ in range(200):
            total += cfg.rate
        acct.balance = acct.balance + total

    def deposit():
        acct.balance = acct.balance + 1

    threads = [threading.Thread(target=batch), threading.Thread(target=deposit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert acct.balance == 401, f"balance {acct.balance}"
