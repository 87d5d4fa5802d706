"""A schedule: the choices that reproduce one execution, as a small JSON document.

It holds the thread chosen at every scheduling point where more than one thread could run, plus what
is needed to run the same program the same way (model, step bound, virtual epoch, hang guard, and for
scripts the path and arguments). Loading validates everything and raises :class:`ScheduleError` with a
message meant for people.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .runtime.execution import HANG_GUARD

FORMAT = "interlace-schedule"
VERSION = 1
MODELS = ("free-threaded", "gil")


_CHUNK = 10_000  # choices written at a time by Schedule.to_json


class ScheduleError(Exception):
    """A schedule file that cannot be used; the message says why and what to do."""


@dataclass
class Schedule:
    choices: list[int]
    model: str = "free-threaded"
    max_steps: int | None = None
    epoch: float = 1_700_000_000.0
    strategy: str = ""
    seed: int | None = None
    execution: int | None = None
    target: dict[str, Any] = field(default_factory=dict)
    failure: str = ""
    #: the exploration's hang guard (see ``interlace.explore``): it decides which timed waits may end early
    hang_guard: float | None = HANG_GUARD

    def to_json(self) -> str:
        doc = {"format": FORMAT, "version": VERSION, **asdict(self)}
        choices = doc["choices"]
        if len(choices) <= _CHUNK:
            return json.dumps(doc, indent=1, sort_keys=False) + "\n"
        # the same text, without the indenting encoder's string per choice (a long execution's millions
        # of decisions took hundreds of MB): the choices written in chunks, in their place
        doc["choices"] = []
        text = json.dumps(doc, indent=1, sort_keys=False)
        listed = ",\n  ".join(",\n  ".join(map(str, choices[i:i + _CHUNK])) for i in range(0, len(choices), _CHUNK))
        head, tail = text.split('"choices": []', 1)
        return f'{head}"choices": [\n  {listed}\n ]{tail}\n'

    @classmethod
    def from_json(cls, text: str, source: str = "schedule") -> Schedule:
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScheduleError(
                f"{source} is not an interlace schedule: it is not valid JSON ({exc}). "
                "Pass a file written by `interlace explore` or `Schedule.to_json()`."
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ScheduleError(
                f"{source} is not an interlace schedule (no \"format\": \"{FORMAT}\" field). "
                "Pass a file written by `interlace explore` or `Schedule.to_json()`."
            )
        version = doc.get("version")
        if not isinstance(version, int) or version > VERSION or version < 1:
            raise ScheduleError(
                f"{source} uses schedule format version {version!r}, but this interlace reads "
                f"version {VERSION}. Upgrade interlace to replay it."
            )
        choices = doc.get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, int) and c >= 0 for c in choices):
            raise ScheduleError(f"{source} is damaged: \"choices\" must be a list of thread numbers.")
        model = doc.get("model", "free-threaded")
        if model not in MODELS:
            raise ScheduleError(f"{source} names an unknown model {model!r} (known: {', '.join(MODELS)}).")
        try:
            return cls(
                choices=choices,
                model=model,
                max_steps=_steps(doc.get("max_steps")),
                epoch=float(doc.get("epoch", 1_700_000_000.0)),
                strategy=str(doc.get("strategy", "")),
                seed=doc.get("seed"),
                execution=doc.get("execution"),
                target=dict(doc.get("target") or {}),
                failure=str(doc.get("failure", "")),
                # a schedule written before hang guards existed: every timed wait could end early
                hang_guard=_seconds(doc.get("hang_guard")),
            )
        except (TypeError, ValueError) as exc:
            raise ScheduleError(f"{source} is damaged: {exc}.") from None

    @classmethod
    def load(cls, path: str) -> Schedule:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            raise ScheduleError(
                f"no schedule file at {path!r}. Check the path printed by `interlace explore`."
            ) from None
        except UnicodeDecodeError:
            with open(path, "rb") as f:
                head = f.read(8)
            raise ScheduleError(
                f"{path!r} is not an interlace schedule: it is binary data (it starts with the bytes "
                f"{head.hex(' ')}), not JSON text. Pass a .json schedule written by `interlace explore`, "
                "or a .ilr recording written by `interlace run`."
            ) from None
        except OSError as exc:
            raise ScheduleError(f"cannot read schedule {path!r}: {exc.strerror or exc}.") from None
        return cls.from_json(text, source=repr(path))


def _steps(value: object) -> int | None:
    """A schedule's ``max_steps``: ``None`` (no bound) or a positive int."""
    return None if value is None else int(value)  # type: ignore[call-overload]


def _seconds(value: object) -> float | None:
    """A schedule's ``hang_guard``: ``None`` (none) or a non-negative number of seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"\"hang_guard\" must be null or a number of seconds, not {value!r}")
    return float(value)
