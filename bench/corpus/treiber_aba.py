"""The ABA problem of a Treiber stack whose nodes are recycled: ``pop`` reads the top node and its
``next``, then swaps the top with a compare-and-set that compares node identity only. If meanwhile
another thread popped that node and the one below it and pushed the first back (recycled), the CAS
succeeds and installs a node that is no longer on the stack.

Witness: the stack is A -> B -> C. Thread 1 pops: reads top A and A.next B, is preempted; thread 2
pops A, pops B, pushes A back (A -> C); thread 1's CAS(top, A, B) succeeds: top is B, which thread 2
holds. The final contents check finds B on the stack and C lost."""

import threading


class Node:
    def __init__(self, value):
        self.value = value
        self.next = None


class Stack:
    def __init__(self):
        self.top = None
        self.lock = threading.Lock()  # stands for the hardware CAS: one atomic compare-and-set

    def cas(self, expected, new):
        with self.lock:
            if self.top is expected:
                self.top = new
                return True
            return False

    def push(self, node):
        while True:
            old = self.top
            node.next = old
            if self.cas(old, node):
                return

    def pop(self):
        while True:
            old = self.top
            if old is None:
                return None
            nxt = old.next
            if self.cas(old, nxt):
                return old


def program():
    s = Stack()
    for v in "CBA":
        s.push(Node(v))
    popped = []

    def one():
        popped.append(s.pop().value)

    def two():
        a = s.pop()
        b = s.pop()
        popped.append(b.value)
        s.push(a)  # recycled

    threads = [threading.Thread(target=one), threading.Thread(target=two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    left = []
    node = s.top
    while node is not None:
        left.append(node.value)
        node = node.next
    assert sorted(popped + left) == ["A", "B", "C"], f"popped {popped}, left {left}"
