"""Why a proxy refused or failed a CONNECT, from what it said about itself.

Classify only: squid's ``X-Squid-Error`` (the error page's name and the
system errno, for example ``ERR_CONNECT_FAIL 111``), RFC 9209's
``Proxy-Status`` error types, and, when neither is there, the status code.
The names come from squid's error list (``src/error/forward.h``) and RFC
9209 section 2.3; the words belong to the codes that use the cause.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from typing import Mapping

POLICY = "policy"  # the proxy's rules forbid this destination
AUTH = "auth"
DNS = "dns"  # the proxy cannot resolve the destination's name
FORWARD = "forward"  # the proxy found no way to forward (squid: also its answer to an unresolvable CONNECT)
CONNECT = "connect"  # the proxy's own connection to the destination failed
TIMEOUT = "timeout"  # the proxy's connection to the destination timed out
ORIGIN_TLS = "origin_tls"  # an inspecting proxy rejected the destination's certificate or TLS
UNKNOWN = "unknown"

_SQUID: Mapping[str, str] = {
    "ERR_ACCESS_DENIED": POLICY,
    "ERR_FORWARDING_DENIED": POLICY,
    "ERR_CACHE_ACCESS_DENIED": AUTH,
    "ERR_DNS_FAIL": DNS,
    "ERR_CANNOT_FORWARD": FORWARD,
    "ERR_GATEWAY_FAILURE": FORWARD,
    "ERR_CONNECT_FAIL": CONNECT,
    "ERR_READ_TIMEOUT": TIMEOUT,
    "ERR_LIFETIME_EXP": TIMEOUT,
    "ERR_SECURE_CONNECT_FAIL": ORIGIN_TLS,
}
_PROXY_STATUS: Mapping[str, str] = {
    "dns_error": DNS,
    "dns_timeout": DNS,
    "destination_not_found": DNS,
    "destination_unavailable": CONNECT,
    "destination_ip_unroutable": CONNECT,
    "connection_refused": CONNECT,
    "connection_terminated": CONNECT,
    "connection_timeout": TIMEOUT,
    "connection_read_timeout": TIMEOUT,
    "connection_write_timeout": TIMEOUT,
    "connection_limit_reached": CONNECT,
    "tls_protocol_error": ORIGIN_TLS,
    "tls_certificate_error": ORIGIN_TLS,
    "tls_alert_received": ORIGIN_TLS,
    "destination_ip_prohibited": POLICY,
    "http_request_denied": POLICY,
    "proxy_internal_error": FORWARD,
}
_BY_STATUS: Mapping[int, str] = {403: POLICY, 407: AUTH, 502: CONNECT, 503: CONNECT, 504: TIMEOUT}
# Schemes dtdoctor cannot speak (it sends Basic only).
_OTHER_SCHEMES = ("ntlm", "negotiate", "kerberos", "digest")


@dataclass(frozen=True)
class Cause:
    """The cause and the proxy's own words that show it (``evidence``; empty when only the status told)."""

    kind: str
    evidence: str


def classify(status: int | None, said: Mapping[str, str]) -> Cause:
    squid = said.get("x-squid-error", "")
    if squid:
        name, _, number = squid.partition(" ")
        kind = _SQUID.get(name.strip(), UNKNOWN)
        detail = _errno_words(number.strip())
        if kind == CONNECT and number.strip() == str(errno.ETIMEDOUT):
            kind = TIMEOUT
        return Cause(kind, f"X-Squid-Error: {squid}{f' ({detail})' if detail else ''}")
    proxy_status = said.get("proxy-status", "")
    error_type = _rfc9209_error(proxy_status)
    if error_type:
        return Cause(_PROXY_STATUS.get(error_type, UNKNOWN), f"Proxy-Status: {proxy_status}")
    return Cause(_BY_STATUS.get(status or 0, UNKNOWN), "")


def _rfc9209_error(value: str) -> str:
    return proxy_status_params(value).get("error", "").lower()


def proxy_status_params(value: str) -> dict[str, str]:
    """The parameters of the last member of a ``Proxy-Status`` list, names in lower case, values unquoted.

    Each member is ``name; param=value; ...`` (RFC 9209, section 2), and
    the proxy nearest this host comes last: its words are the ones about
    this answer.
    """
    members = _split_outside_quotes(value, ",")
    params: dict[str, str] = {}
    for part in _split_outside_quotes(members[-1], ";")[1:]:
        key, _, found = part.partition("=")
        params[key.strip().lower()] = found.strip().strip('"')
    return params


# A quoted string (with its escapes), a run of anything else, or a separator.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[^",;]+|[,;]')


def _split_outside_quotes(value: str, separator: str) -> list[str]:
    """``value`` split on ``separator`` where it is not inside a quoted string (``details="a, b"``, RFC 8941)."""
    parts, current = [], ""
    for token in _TOKENS.findall(value):
        if token == separator:
            parts.append(current)
            current = ""
        else:
            current += token
    return [*parts, current]


def _errno_words(number: str) -> str:
    if not number.isdigit() or number == "0" or len(number) > 4:
        return ""
    return os.strerror(int(number))


def offered_schemes(said: Mapping[str, str]) -> list[str]:
    """The authentication schemes a 407 offered (``Proxy-Authenticate``), first word of each."""
    value = said.get("proxy-authenticate", "")
    schemes = []
    for challenge in _split_outside_quotes(value, ","):  # a realm may hold a comma: realm="Corp, Inc"
        words = challenge.split()
        if words and "=" not in words[0]:
            schemes.append(words[0])
    return schemes


def basic_offered(said: Mapping[str, str]) -> bool:
    schemes = [scheme.lower() for scheme in offered_schemes(said)]
    return not schemes or "basic" in schemes or not all(scheme in _OTHER_SCHEMES for scheme in schemes)
