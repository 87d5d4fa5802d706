"""Follow a recorded list of choices exactly; report where the program stops matching it."""

from __future__ import annotations

from typing import Any

from .base import STOP, Strategy


class ReplayStrategy(Strategy):
    """Replays ``choices`` (one tid per scheduling point where several threads were enabled).

    When the choices run out, the current thread keeps running (no preemption) and otherwise the
    lowest enabled tid runs: a deterministic continuation, used by shrinking and by prefixes.
    """

    name = "replay"

    def __init__(self, choices: list[int]) -> None:
        super().__init__(0)
        self.choices = list(choices)
        self.position = 0
        self.divergence: str | None = None

    def begin(self, index: int) -> bool:
        self.position = 0
        self.divergence = None
        return index == 0

    def choose(self, enabled: list[int], current: int | None, execution: Any) -> int:
        if self.position < len(self.choices):
            tid = self.choices[self.position]
            self.position += 1
            if tid in enabled:
                return tid
            if self.divergence is None:
                names = ", ".join(execution.name_of(t) for t in enabled)
                wanted = repr(execution.name_of(tid)) if tid < len(execution.threads) else f"thread #{tid}"
                self.divergence = (
                    f"decision {self.position}: the schedule runs {wanted}, but only {names} can run"
                )
            return STOP
        return current if current is not None else enabled[0]

    def quantum(self, enabled: list[int], chosen: int, execution: Any) -> int:
        choices, i = self.choices, self.position
        if i >= len(choices):
            return 1 << 30  # past the end, the running thread keeps running
        end = min(len(choices), i + 4096)
        j = i
        while j < end and choices[j] == chosen:
            j += 1
        return j - i

    def stayed(self, n: int) -> None:
        self.position += n
