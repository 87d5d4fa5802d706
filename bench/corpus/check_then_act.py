"""Check-then-act: a bank withdrawal checks the balance, then withdraws; two withdrawals overdraw."""

import threading


class Account:
    def __init__(self, balance):
        self.balance = balance

    def withdraw(self, amount):
        if self.balance >= amount:
            self.balance = self.balance - amount
            return True
        return False


def program():
    account = Account(100)
    threads = [threading.Thread(target=account.withdraw, args=(80,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert account.balance >= 0, f"overdrawn: {account.balance}"
