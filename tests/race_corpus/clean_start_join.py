import threading


class Job:
    def __init__(self):
        self.input = None
        self.output = None


job = Job()
job.input = 21


def run():
    job.output = job.input * 2


t = threading.Thread(target=run)
t.start()
t.join()
assert job.output == 42
job.input = 0
