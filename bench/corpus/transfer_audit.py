"""Non-atomic transfer: an auditor reads both balances in the middle of a transfer and sees money
vanish (an atomicity violation across two locations)."""

import threading


class Bank:
    def __init__(self):
        self.a = 50
        self.b = 50


def program():
    bank = Bank()

    def transfer():
        bank.a = bank.a - 10
        bank.b = bank.b + 10

    def audit():
        total = bank.a + bank.b
        assert total == 100, f"audit saw {total}"

    threads = [threading.Thread(target=transfer), threading.Thread(target=audit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
