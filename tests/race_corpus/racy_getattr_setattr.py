import threading


class Config:
    retries = 0


cfg = Config()


def bump(name):
    setattr(cfg, name, getattr(cfg, name) + 1)  # RACE


threads = [threading.Thread(target=bump, args=("retries",)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
