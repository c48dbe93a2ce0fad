"""The few detail keys that renderers read, in one place.

Checks put free-form evidence into ``CheckResult.details``; the HTML shows it
all, but the monitoring formats (Nagios perfdata, Prometheus metrics) need
numbers with a known meaning. These are the keys they look for, at the top
level of ``details`` (documented in docs/reports.md):

- ``latency_ms``: the latency the probe measured (a TCP connect, a
  handshake, an API round trip), in milliseconds. Without it the probe's
  ``duration_ms`` stands in.
- ``days_to_expiry``: whole days until the certificate (``tls``) or the
  token (``token``) expires; negative once expired.
- ``expiry``: the same moment as an ISO 8601 timestamp in UTC
  (``2027-01-31T12:00:00Z``).

Older spellings (``days_left``, ``expires_in_days``, ``expires_at``,
``not_after``) are read too, so evidence written before the keys were fixed
still shows up.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Mapping

from dtdoctor.core.model import CheckResult

LATENCY_KEYS = ("latency_ms",)
DAYS_TO_EXPIRY_KEYS = ("days_to_expiry", "days_left", "expires_in_days")
EXPIRY_KEYS = ("expiry", "expires_at", "not_after")

# Families whose expiry is a certificate's and a token's.
CERTIFICATE_FAMILIES = ("tls",)
TOKEN_FAMILIES = ("token",)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _first_number(details: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        number = _number(details.get(key))
        if number is not None:
            return number
    return None


def latency_ms(result: CheckResult) -> float:
    """The probe's measured latency, or how long the probe took when it measured none."""
    measured = _first_number(result.details, LATENCY_KEYS)
    return measured if measured is not None else float(result.duration_ms)


def parse_timestamp(text: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC) as an aware datetime."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python 3.9's fromisoformat wants exactly 0, 3 or 6 fraction digits.
    value = re.sub(r"(\.\d{1,6})\d*", lambda match: match.group(1).ljust(7, "0"), value, count=1)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def expiry(result: CheckResult) -> dt.datetime | None:
    for key in EXPIRY_KEYS:
        moment = parse_timestamp(result.details.get(key))
        if moment is not None:
            return moment
    return None


def days_to_expiry(result: CheckResult, now: dt.datetime | None = None) -> float | None:
    """Days until expiry: the detail if given, else computed from the expiry timestamp."""
    days = _first_number(result.details, DAYS_TO_EXPIRY_KEYS)
    if days is not None:
        return days
    moment = expiry(result)
    if moment is None:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    return math.floor((moment - now).total_seconds() / 86400)


def expiry_kind(result: CheckResult) -> str | None:
    """``certificate`` or ``token`` for results whose expiry means one of those, else None."""
    if result.family in CERTIFICATE_FAMILIES:
        return "certificate"
    if result.family in TOKEN_FAMILIES:
        return "token"
    return None
