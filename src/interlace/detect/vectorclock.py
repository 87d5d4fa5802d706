"""Vector clocks over the small dense thread ids of one execution (thread 0 is the main thread)."""

from __future__ import annotations


class VectorClock:
    """``clock[tid]`` counts the synchronisation epochs of thread ``tid`` known to the owner."""

    __slots__ = ("c",)

    def __init__(self, entries: list[int] | None = None) -> None:
        self.c = entries if entries is not None else []

    def get(self, tid: int) -> int:
        c = self.c
        return c[tid] if tid < len(c) else 0

    def set(self, tid: int, value: int) -> None:
        c = self.c
        if tid >= len(c):
            c.extend([0] * (tid + 1 - len(c)))
        c[tid] = value

    def tick(self, tid: int) -> None:
        self.set(tid, self.get(tid) + 1)

    def join(self, other: VectorClock) -> None:
        """This clock becomes the pointwise maximum of itself and ``other``."""
        c, o = self.c, other.c
        if len(o) > len(c):
            c.extend([0] * (len(o) - len(c)))
        for i, v in enumerate(o):
            if v > c[i]:
                c[i] = v

    def copy(self) -> VectorClock:
        return VectorClock(list(self.c))

    def __repr__(self) -> str:
        return f"VC{self.c}"
