"""Project settings from ``[tool.interlace]`` in the nearest ``pyproject.toml``.

Recognised keys: ``ignore-races`` (a list of fnmatch patterns: ``"shop.py:12"``, ``"Cache.*"``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class Config:
    ignore_races: list[str] = field(default_factory=list)
    path: str | None = None


def find_pyproject(start: str | None = None) -> str | None:
    directory = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def load_config(start: str | None = None) -> Config:
    """Read the settings; a missing file or section gives the defaults, a broken one raises ValueError."""
    path = find_pyproject(start)
    if path is None:
        return Config()
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        return Config(_read_ignore_races_310(path), path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    section = data.get("tool", {}).get("interlace", {})
    patterns = section.get("ignore-races", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise ValueError(f"{path}: [tool.interlace] ignore-races must be a list of strings")
    return Config(list(patterns), path)


def _read_ignore_races_310(path: str) -> list[str]:
    """Python 3.10 has no tomllib: read the one list we need from the [tool.interlace] table."""
    import ast
    import re

    with open(path, encoding="utf-8") as f:
        text = f.read()
    section = re.search(r"^\[tool\.interlace\]\s*$(.*?)(?=^\[|\Z)", text, re.S | re.M)
    if not section:
        return []
    match = re.search(r"^ignore-races\s*=\s*(\[.*?\])", section.group(1), re.S | re.M)
    if not match:
        return []
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        raise ValueError(f"{path}: [tool.interlace] ignore-races must be a list of strings") from None
    return [str(v) for v in value]
