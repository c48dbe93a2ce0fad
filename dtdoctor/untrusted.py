"""Reading numbers out of text that a server, proxy or local service sent.

Such text is evidence, not input dtdoctor controls: ``str.isdigit`` accepts
superscripts and other Unicode digits that ``int`` then refuses, and ``int``
refuses strings of more than a few thousand digits outright. These helpers
accept only short runs of ASCII digits and answer None for anything else, so
a hostile or broken answer becomes a finding instead of an exception.
"""

from __future__ import annotations


def is_ascii_number(text: str, max_digits: int) -> bool:
    """``text`` is 1 to ``max_digits`` ASCII digits and nothing else."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def ascii_int(text: str, max_digits: int) -> int | None:
    """The value of ``text`` when it is 1 to ``max_digits`` ASCII digits, else None."""
    return int(text) if is_ascii_number(text, max_digits) else None
