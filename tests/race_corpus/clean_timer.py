import threading

state = {"armed": True}


def fire():
    state["fired"] = state["armed"]


timer = threading.Timer(0.5, fire)
timer.start()
timer.join()
assert state["fired"] is True
