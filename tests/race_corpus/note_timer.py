import threading

result = {}


def fire():
    result["fired"] = True  # RACE


timer = threading.Timer(0.5, fire)
timer.start()
print(result.get("fired"))  # RACE
timer.join()
