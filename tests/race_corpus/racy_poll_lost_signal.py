"""A poll, then a consume, with two signallers: one signal can be lost.

Each setter raises the flag once; the consumer polls until it is up and lowers it. The read that ends
the poll sees one setter's write, and that write is ordered before the consume; the other setter's write
is not, and can come between the read and the consume (``ready = True`` twice, then ``False``), which
overwrites it: a lost update, though the consumer's poll is otherwise correct (note_poll_consume.py).
"""

import threading
import time


class Box:
    ready = False


box = Box()


def setter():
    box.ready = True  # RACE:lost # RACE:poll


def consumer():
    while not box.ready:  # RACE:poll
        time.sleep(0.001)
    box.ready = False  # RACE:lost


threads = [threading.Thread(target=consumer), threading.Thread(target=setter), threading.Thread(target=setter)]
for t in threads:
    t.start()
for t in threads:
    t.join()
