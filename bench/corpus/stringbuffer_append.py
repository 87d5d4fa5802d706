"""``StringBuffer.append(StringBuffer)`` (after the JDK bug in JaConTeBe and SCTBench's
stringbuffer): every method of the buffer is locked, but appending another buffer asks for its
length in one call and copies that many characters in a second one. Another thread that shrinks the
source in between makes the copy ask for characters that are gone.

Witness: the appender takes ``n = source.length()`` (5) and is preempted; the other thread calls
``source.erase()``; the appender's ``source.get_chars(0, 5)`` raises IndexError. Each call is atomic;
the bug is the pair."""

import threading


class Buffer:
    def __init__(self, text=""):
        self.chars = list(text)
        self.lock = threading.RLock()

    def length(self):
        with self.lock:
            return len(self.chars)

    def get_chars(self, start, end):
        with self.lock:
            if end > len(self.chars):
                raise IndexError(f"get_chars({start}, {end}) of a buffer of {len(self.chars)}")
            return self.chars[start:end]

    def append(self, other):
        with self.lock:
            n = other.length()  # the bug: length and copy are two calls
            self.chars.extend(other.get_chars(0, n))

    def erase(self):
        with self.lock:
            del self.chars[:]

    def add(self, text):
        with self.lock:
            self.chars.extend(text)


def program():
    source = Buffer("hello")
    target = Buffer()

    def appender():
        target.add("> ")
        target.append(source)

    def eraser():
        source.add("!")
        source.erase()
        source.add("bye")

    threads = [threading.Thread(target=appender), threading.Thread(target=eraser)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
