"""Durations as people write them on a command line: ``300``, ``90s``, ``5m``, ``24h``, ``7d``."""

from __future__ import annotations

import re

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)")


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (a number of seconds, or a number with s, m, h or d); ``ValueError`` otherwise."""
    match = _PATTERN.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration (write seconds, or a number with s, m, h or d: 300, 5m, 24h)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def describe_seconds(seconds: float) -> str:
    """A short human form of ``seconds``: ``45s``, ``90m``, ``26h``, ``3d``."""
    whole = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= 2 * size:
            return f"{whole // size}{unit}"
    return f"{whole}s"
