import threading

_instance = None


class Service:
    pass


def get_service():
    global _instance
    if _instance is None:  # RACE
        _instance = Service()  # RACE
    return _instance


threads = [threading.Thread(target=get_service) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
