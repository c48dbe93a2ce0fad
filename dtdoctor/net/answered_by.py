"""Who wrote an HTTPS answer: the server, or a proxy in between that answered in its place.

Classify only; the words belong to the code that uses the answer. Inside a
CONNECT tunnel only the server can answer, unless a proxy terminates the TLS
(an inspecting proxy, squid's ssl-bump): then an answer may be the proxy's
own. What shows it, first that applies first:

- ``X-Squid-Error``: squid puts it on its own error pages only
  (``ErrorState::BuildHttpReply`` in ``src/errorpage.cc``), whose ``Date`` is
  squid's clock (``HttpReply::setHeaders`` writes ``squid_curtime``).
- RFC 9209's ``Proxy-Status`` with an ``error`` and no ``received-status``
  (sections 2.1.1 and 2.1.3): the proxy got no answer from the next hop, so
  this one is its own.
- 407: only a proxy asks for proxy credentials (RFC 9110, 15.5.8).
- a gateway error (502, 503, 504) through an inspecting proxy: the proxy may
  have written it, or relayed the server's; nothing in it tells which.

Anything else is the server's answer: a proxy that relays one keeps its
``Date`` (squid adds a ``Date`` only when the answer has none:
``clientReplyContext::buildReplyHeader`` in ``src/client_side_reply.cc``;
RFC 9110, 6.6.1), and adds a ``Via`` to relayed and own answers alike, so
``Via`` tells nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from dtdoctor.net.proxy_cause import proxy_status_params

SERVER = "server"
PROXY = "proxy"
CANNOT_TELL = "cannot_tell"

_GATEWAY_ERRORS = (502, 503, 504)


@dataclass(frozen=True)
class Author:
    """Who wrote the answer, and the proxy's own words that show it ("" for the server)."""

    by: str
    evidence: str = ""


# The server's own answer: nothing in it names a proxy.
BY_SERVER = Author(SERVER)


def classify(status: int, headers: Mapping[str, str], inspected: bool) -> Author:
    """Who wrote an answer with ``status`` and ``headers`` (names in lower case); ``inspected``: the
    connection's certificate is an inspecting proxy's, so the proxy terminates the TLS."""
    squid = headers.get("x-squid-error", "").strip()
    if squid:
        return Author(PROXY, f"X-Squid-Error: {squid[:80]}")
    proxy_status = headers.get("proxy-status", "").strip()
    if _proxy_status_error(proxy_status):
        return Author(PROXY, f"Proxy-Status: {proxy_status[:120]}")
    if status == 407:
        return Author(PROXY, "HTTP 407 Proxy Authentication Required")
    if inspected and status in _GATEWAY_ERRORS:
        return Author(CANNOT_TELL, f"HTTP {status} through an inspecting proxy")
    return BY_SERVER


def _proxy_status_error(value: str) -> bool:
    """Whether the proxy nearest this host reports an error and received no status."""
    params = proxy_status_params(value)
    return "error" in params and "received-status" not in params
