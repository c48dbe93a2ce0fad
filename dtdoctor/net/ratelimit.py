"""When may a rate-limited client (HTTP 429) try again?

Dynatrace's Environment API documents only the status 429. Its Cluster API
documents the headers ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (the moment the limit resets, in *microseconds* since
the epoch; docs "Access limit" of the Dynatrace API), and Dynatrace's own
clients read ``Retry-After`` (seconds, or an HTTP date: RFC 9110 10.2.3).
The reset moment is measured against the server's ``Date`` header, never
against this host's clock, which may be off (the clock check says by how much).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

# A reset further than this from the server's Date is not a time in microseconds as documented.
_PLAUSIBLE_WAIT = (-60.0, 86400.0)


@dataclass(frozen=True)
class RateLimit:
    """What a 429 said about retrying, and the advice that follows from it."""

    retry_after: str | None = None  # the header as sent (trimmed)
    limit: int | None = None
    remaining: int | None = None
    reset_us: int | None = None
    wait_s: float | None = None  # seconds to wait, by the server's clock
    source: str | None = None  # which header ``wait_s`` comes from
    note: str | None = None  # why a header present could not be used

    @property
    def advice(self) -> str:
        if self.wait_s is not None:
            return f"retry in {max(0, round(self.wait_s))} s ({self.source})"
        return "wait a minute and retry (Dynatrace gave no usable time)"

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {"retry_after": self.retry_after, "retry_in_s": self.wait_s,
                                    "retry_source": self.source, "advice": self.advice}
        headers = {"limit": self.limit, "remaining": self.remaining, "reset_us": self.reset_us}
        if any(value is not None for value in headers.values()):
            found["rate_limit"] = headers
        if self.note:
            found["rate_limit_note"] = self.note
        return found


def _integer(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 20 else None


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    import email.utils  # only a 429 with a date is read with it

    try:
        moment = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def _retry_after(value: str | None, server_now: float | None) -> float | None:
    seconds = _integer(value)
    if seconds is not None:
        return float(seconds)
    moment = _http_date(value)
    if moment is None:
        return None
    return moment - (server_now if server_now is not None else time.time())


def read(headers: Mapping[str, str]) -> RateLimit:
    """The retry advice of a 429's headers (lower-case names, as dtdoctor's responses keep them)."""
    server_now = _http_date(headers.get("date"))
    raw_retry = headers.get("retry-after")
    reset_us = _integer(headers.get("x-ratelimit-reset"))
    found = RateLimit(
        retry_after=raw_retry.strip()[:40] if raw_retry else None,
        limit=_integer(headers.get("x-ratelimit-limit")),
        remaining=_integer(headers.get("x-ratelimit-remaining")),
        reset_us=reset_us,
    )
    wait = _retry_after(raw_retry, server_now)
    if wait is not None:
        return _with(found, wait, "Retry-After")
    if reset_us is None:
        return found
    if server_now is None:
        return _with(found, None, None, "X-RateLimit-Reset without the server's Date header: cannot tell how far")
    wait = reset_us / 1_000_000 - server_now
    if not _PLAUSIBLE_WAIT[0] <= wait <= _PLAUSIBLE_WAIT[1]:
        return _with(found, None, None, "X-RateLimit-Reset is not a time in microseconds near the server's Date")
    return _with(found, wait, "X-RateLimit-Reset against the server's Date")


def _with(found: RateLimit, wait: float | None, source: str | None, note: str | None = None) -> RateLimit:
    return RateLimit(found.retry_after, found.limit, found.remaining, found.reset_us,
                     None if wait is None else round(wait, 1), source, note)
