"""Where a failing test's schedule is saved, and the command that replays it.

Exists so that the file name and the printed ``Replay it:`` command stay one stable, copy-pasteable
pair: the name is derived from the test id alone, and both paths are written relative to where
pytest was started.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import pytest

SCHEDULE_DIR = (".interlace", "pytest")


def schedule_path(config: pytest.Config, nodeid: str) -> str:
    """Where the failing schedule of ``nodeid`` is saved: ``.interlace/pytest/<sanitised id>.json``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", nodeid).strip("_.")
    if len(name) > 120:
        name = name[:100] + "-" + hashlib.sha256(nodeid.encode()).hexdigest()[:12]
    return os.path.join(str(config.rootpath), *SCHEDULE_DIR, name + ".json")


def replay_command(item: Any, path: str) -> str:
    """``pytest '<test id>' --interlace-replay=<file>``, both relative to where pytest was started."""
    invocation = str(item.config.invocation_params.dir)
    nodeid = item.nodeid
    try:
        where = os.path.relpath(str(item.path), invocation)
        rest = nodeid.split("::", 1)[1] if "::" in nodeid else ""
        nodeid = where + ("::" + rest if rest else "")
        path = os.path.relpath(path, invocation)
    except ValueError:  # another drive
        pass
    return f"pytest {_quote(nodeid)} --interlace-replay={_quote_path(path)}"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _quote_path(text: str) -> str:
    return text if re.fullmatch(r"[\w@%+=:,./-]+", text) else _quote(text)
