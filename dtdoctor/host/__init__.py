"""Facts about the local host, read from an injectable filesystem root."""

from __future__ import annotations

import sys


def platform_name() -> str:
    """``sys.platform``, behind a function so tests can pretend to be another OS."""
    return sys.platform


def is_linux() -> bool:
    return platform_name().startswith("linux")


def is_windows() -> bool:
    return platform_name() in ("win32", "cygwin")
