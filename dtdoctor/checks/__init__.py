"""The one registry of checks, in report order.

Adding a check is adding its module and one line here; nothing else changes.
"""

from __future__ import annotations

from dtdoctor.checks import config_token, config_url, container, dns, eec, oneagent, tcp
from dtdoctor.checks.base import Check

CHECKS: tuple[Check, ...] = (
    config_url.CHECK,
    config_token.CHECK,
    dns.CHECK,
    tcp.CHECK,
    container.CHECK,
    oneagent.CHECK,
    eec.CHECK,
)


def check_ids() -> list[str]:
    return [check.id for check in CHECKS]
