"""Placeholder: filled below."""
from __future__ import annotations


def check_dask(address: str) -> None:
    raise NotImplementedError
