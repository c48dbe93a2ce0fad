"""The one registry of checks, in report order.

Adding a check is adding its module and one line here; nothing else changes.
"""

from __future__ import annotations

from typing import Mapping

from dtdoctor.checks import (
    activegate,
    api,
    clock,
    config_token,
    config_url,
    container,
    dns,
    eec,
    event,
    oneagent,
    proxy,
    tcp,
    tls,
    token,
    truststore,
)
from dtdoctor.checks.base import Check
from dtdoctor.core.codes import Code, code_table

CHECKS: tuple[Check, ...] = (
    config_url.CHECK,
    config_token.CHECK,
    dns.CHECK,
    tcp.CHECK,
    proxy.CHECK,
    tls.CHECK,
    truststore.CHECK,
    clock.CHECK,
    api.CHECK,
    activegate.CHECK,
    token.CHECK,
    container.CHECK,
    oneagent.CHECK,
    eec.CHECK,
    event.CHECK,
)


def check_ids() -> list[str]:
    return [check.id for check in CHECKS]


def registry_codes() -> Mapping[str, Code]:
    """Every code the registered checks (and the runner) can report: what ``explain`` lists."""
    return code_table(check.codes for check in CHECKS)
