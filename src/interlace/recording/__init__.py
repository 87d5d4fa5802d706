"""Recordings of whole runs: a versioned, compressed, streamed file (see ``docs/recording-format.md``).

:class:`RecordingWriter` streams a run as it goes (a killed run leaves a usable prefix);
:func:`load` validates a file and raises :class:`RecordingError` with a message meant for people;
:mod:`.decisions` holds the strategies that write the decisions of a run and check them in a replay;
:mod:`.program` is the program a run runs as ``__main__``.
"""

from __future__ import annotations

from .format import FORMAT_VERSION, MAGIC, Recording, RecordingError, RecordingWriter, load

__all__ = ["FORMAT_VERSION", "MAGIC", "Recording", "RecordingError", "RecordingWriter", "load"]
