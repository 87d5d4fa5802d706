import threading


class Account:
    def __init__(self, balance):
        self.balance = balance


a, b = Account(100), Account(100)


def transfer(src, dst, amount):
    if src.balance >= amount:  # RACE
        src.balance -= amount  # RACE
        dst.balance += amount


threads = [threading.Thread(target=transfer, args=(a, b, 50)), threading.Thread(target=transfer, args=(a, b, 70))]
for t in threads:
    t.start()
for t in threads:
    t.join()
