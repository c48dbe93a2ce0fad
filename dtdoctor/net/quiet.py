"""Warnings a library raises about what dtdoctor does on purpose, ignored for the whole process.

``warnings.catch_warnings`` is not thread-safe: it puts back the filters it
saved when it ends, which drops a filter another probe's thread set
meanwhile. Probes run in threads, so such a warning gets one process-wide
filter instead, added the first time it is needed (and again if something
reset the filters since, as a test harness does).
"""

from __future__ import annotations

import threading
import warnings

_lock = threading.Lock()


def ignore(message: str, category: type[Warning] = Warning) -> None:
    """Ignore warnings whose text starts with the regular expression ``message``, unless already ignored."""
    with _lock:
        if not any(_is(entry, message, category) for entry in warnings.filters):
            warnings.filterwarnings("ignore", message=message, category=category)


def _is(entry: tuple[object, ...], message: str, category: type[Warning]) -> bool:
    action, pattern, kind = entry[0], entry[1], entry[2]
    return action == "ignore" and kind is category and getattr(pattern, "pattern", None) == message
