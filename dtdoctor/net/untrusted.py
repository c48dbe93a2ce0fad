"""Handling what a server, proxy or local service sent.

Such text is evidence, not input dtdoctor controls: ``str.isdigit`` accepts
superscripts and other Unicode digits that ``int`` then refuses, and ``int``
refuses strings of more than a few thousand digits outright. These helpers
accept only short runs of ASCII digits and answer None for anything else, so
a hostile or broken answer becomes a finding instead of an exception.

Evidence kept in a result's details is bounded in depth (``bounded``): JSON
nested a few hundred levels deep parses, but every renderer and reader after
it (the HTML template, a later ``merge``) would run out of recursion.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 12


def is_ascii_number(text: str, max_digits: int) -> bool:
    """``text`` is 1 to ``max_digits`` ASCII digits and nothing else."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def ascii_int(text: str, max_digits: int) -> int | None:
    """The value of ``text`` when it is 1 to ``max_digits`` ASCII digits, else None."""
    return int(text) if is_ascii_number(text, max_digits) else None


def bounded(value: Any, depth: int = MAX_DEPTH) -> Any:
    """``value`` with containers nested deeper than ``depth`` replaced by a note saying so."""
    if isinstance(value, dict):
        if depth <= 0:
            return "(nested too deep to show)"
        return {key: bounded(item, depth - 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if depth <= 0:
            return "(nested too deep to show)"
        return type(value)(bounded(item, depth - 1) for item in value)
    return value
