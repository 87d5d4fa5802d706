"""The files the command line writes (``explore -o``, ``--html``, ``run --record``), checked before
anything runs: an exploration that takes minutes must not end in a traceback about a path.

Two rules: interlace never overwrites a file it did not write (the script itself, a user's
``notes.json``), and it creates missing directories only under the current one (``out/x.html``): a
typo such as ``/no/such/dir/x.json`` is an error, not a ``mkdir -p`` at ``/``.
"""

from __future__ import annotations

import json
import os

from ..drivers.script import UsageError

_HTML_MARK = "<title>interlace: "


def written_by_interlace(path: str, kind: str) -> bool:
    """Whether the existing file at ``path`` is one interlace writes as ``kind`` (schedule/html)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if kind == "schedule":
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError, UnicodeDecodeError):
            return False
        return isinstance(doc, dict) and doc.get("format") == "interlace-schedule"
    if kind == "recording":
        from ..recording import MAGIC

        return head[:4] == MAGIC[:4]
    return kind == "html" and _HTML_MARK.encode() in head


def check_output(path: str, option: str, kind: str) -> None:
    """Raise :class:`UsageError` (one paragraph) unless ``path`` can be written as ``kind``
    (``schedule``, ``html`` or ``recording``)."""
    shown = repr(path)
    if os.path.isdir(path):
        suffix = {"html": ".html", "recording": ".ilr"}.get(kind, ".json")
        raise UsageError(f"{option} {shown} is a directory; give a file name (e.g. "
                         f"{os.path.join(path, 'out' + suffix)}).")
    if os.path.exists(path):
        if not written_by_interlace(path, kind):
            raise UsageError(f"{option} {shown} exists and was not written by interlace; interlace never "
                             "overwrites a file it did not write. Choose another path, or delete the file first.")
        if not os.access(path, os.W_OK):
            raise UsageError(f"{option} {shown} cannot be written (permission denied). Choose another path.")
        return
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        here = os.getcwd()
        if os.path.commonpath([here, parent]) != here:
            raise UsageError(f"{option} {shown}: the directory {parent!r} does not exist; interlace creates "
                             "missing directories only under the current one. Create it first, or choose another "
                             "path.")
        existing = parent
        while not os.path.isdir(existing):
            existing = os.path.dirname(existing)
        if not os.access(existing, os.W_OK):
            raise UsageError(f"{option} {shown}: the directory {parent!r} cannot be created (permission denied). "
                             "Choose another path.")
        return  # created when the file is written
    try:  # the only sure test on every file system (/proc, read-only mounts, root's permissions)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise UsageError(f"{option} {shown} cannot be written ({exc.strerror or exc}). Choose another "
                         "path.") from None
    os.close(fd)
    os.unlink(path)
