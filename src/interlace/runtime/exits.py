"""``os._exit`` called by a managed thread during an exploration or a schedule's replay.

Left alone it would end interlace's own process with no report and no schedule. Instead it ends the
execution with an "exit" failure that says which thread, where, and the status, so that the
exploration reports it and saves its schedule like any other failure (``interlace run`` keeps the
real ``os._exit``: a recorded run ends as the program would, with its recording closed first).
"""

from __future__ import annotations

import os
from typing import Any

from . import hooks
from .describe import stack_of
from .state import Failure

_real_exit = os._exit


def _exit(status: int) -> Any:
    ex = hooks._active
    me = ex.me() if ex is not None else None
    if me is None:
        _real_exit(status)
    site = me.site
    where = f" at {os.path.basename(site[0])}:{site[1]}" if site else ""
    thread = "the main thread" if me.tid == 0 else f"thread {me.name!r}"
    ex.stop(me, Failure("exit", f"os._exit({status}) in {thread}{where}: the process would end here with "
                                f"exit status {status}", thread=me.name,
                        details=[f"thread {me.name!r} is here:\n" + "".join(stack_of(ex, me))], step=ex.step))


class ExitPatch:
    def __init__(self) -> None:
        self._saved: Any = None

    def install(self) -> ExitPatch:
        self._saved = os._exit
        os._exit = _exit
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            os._exit = self._saved
            self._saved = None
