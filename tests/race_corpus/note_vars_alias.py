import threading


class State:
    def __init__(self):
        self.mode = "idle"


state = State()


def set_mode():
    vars(state)["mode"] = "busy"  # RACE


def get_mode():
    return state.mode  # RACE


threads = [threading.Thread(target=set_mode), threading.Thread(target=get_mode)]
for t in threads:
    t.start()
for t in threads:
    t.join()
