"""Which proxy, if any, applies to an endpoint, and which setting said so.

Mirrors what curl and Python clients (urllib, httpx, requests) do, so the
verdict matches what the user's other tools experience: for an https URL,
``https_proxy`` then ``HTTPS_PROXY`` (lower case wins), then ``all_proxy`` /
``ALL_PROXY``; ``NO_PROXY``/``no_proxy`` sends matching hosts direct.
``--proxy`` overrides the environment but still honours ``NO_PROXY``.
Settings that are present but do not apply (``HTTP_PROXY`` for an https URL)
are reported, since they are a classic source of confusion.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from dtdoctor.config import Endpoint, display_url, is_loopback_host
from dtdoctor.core.context import RunContext
from dtdoctor.net.untrusted import is_ascii_number


@dataclass(frozen=True)
class ProxyChoice:
    """The proxy for one endpoint (``url`` None: direct) and why."""

    url: str | None
    source: str  # "--proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY" ...; "" when direct
    bypass: str | None = None  # the NO_PROXY entry that sent the endpoint direct
    ignored: tuple[str, ...] = ()  # settings present that do not apply here
    # Trusted, with the system store, for an https:// proxy's own certificate (--ca-bundle).
    ca_bundle: Path | None = field(default=None, compare=False, repr=False)

    @property
    def direct(self) -> bool:
        return self.url is None

    @property
    def display(self) -> str:
        return display_url(self.url) if self.url else "direct"

    def to_json(self) -> dict[str, object]:
        return {
            "proxy": display_url(self.url) if self.url else None,
            "source": self.source or None,
            "no_proxy_match": self.bypass,
            "ignored_settings": list(self.ignored),
        }


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return name, value
    return None


def no_proxy_match(host: str, port: int, no_proxy: str) -> str | None:
    """The NO_PROXY entry that matches ``host``, if any (curl's rules, plus CIDR).

    An IP address entry matches by value, as curl's ``lib/noproxy.c`` compares
    them (inet_pton on both sides); an IPv6 entry may be written bare or in
    brackets, with or without a ``/prefix``.
    """
    host = host.lower().strip("[]")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return entry
        if entry and _entry_matches(host, port, entry):
            return raw.strip()
    return None


def _entry_matches(host: str, port: int, entry: str) -> bool:
    """One lower-case NO_PROXY entry: a name (and its subdomains) or a network, optionally with a port."""
    name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if entry_port and is_ascii_number(entry_port, 5) and int(entry_port) != port:
        return False
    name = name.strip("[]")
    if "/" in name:
        return _in_network(host, name)
    name = name.lstrip("*").lstrip(".")
    return host == name or host.endswith("." + name) or _same_address(host, name)


def _in_network(host: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _same_address(host: str, name: str) -> bool:
    """Two spellings of one IP address (``fd00::1``, ``fd00:0::1``): curl compares addresses, not text."""
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(name)
    except ValueError:
        return False


_HTTPS_NAMES = ("https_proxy", "HTTPS_PROXY")
_HTTP_NAMES = ("http_proxy", "HTTP_PROXY")


def choose_proxy(scheme: str, host: str, port: int, explicit: str | None, environ: Mapping[str, str]) -> ProxyChoice:
    specific, other = (_HTTPS_NAMES, _HTTP_NAMES) if scheme.lower() == "https" else (_HTTP_NAMES, _HTTPS_NAMES)
    ignored = tuple(name for name in other if environ.get(name, "").strip())
    if explicit:
        found: tuple[str, str] | None = ("--proxy", explicit)
    else:
        found = _first(environ, specific) or _first(environ, ("all_proxy", "ALL_PROXY"))
    if found is None:
        return ProxyChoice(None, "", None, ignored)
    bypass = _bypass(host, port, environ)
    if bypass is not None:
        return ProxyChoice(None, "", bypass, ignored)
    source, url = found
    return ProxyChoice(url if "://" in url else "http://" + url, source, None, ignored)


def _bypass(host: str, port: int, environ: Mapping[str, str]) -> str | None:
    """Why ``host`` goes direct although a proxy is set: loopback, or the NO_PROXY setting and entry."""
    if is_loopback_host(host):
        return "loopback (always direct)"
    no_proxy = _first(environ, ("no_proxy", "NO_PROXY"))
    if no_proxy is None:
        return None
    match = no_proxy_match(host, port, no_proxy[1])
    return None if match is None else f"{no_proxy[0]}={match}"


def route(ctx: RunContext, endpoint: Endpoint) -> ProxyChoice:
    """The proxy (or none) for an endpoint in this run, and which setting supplied it."""
    choice = choose_proxy(endpoint.scheme, endpoint.host, endpoint.port, ctx.settings.proxy, ctx.environ)
    return replace(choice, ca_bundle=ctx.settings.ca_bundle)


def credentials_example(proxy_display: str) -> str:
    """The proxy URL with a placeholder for credentials, in the proxy's own scheme (an https:// proxy stays one).

    The placeholder is the redactor's own ``<credentials>``, which every output shows for a URL's user
    information anyway; the words around it say what goes there.
    """
    scheme, found, rest = proxy_display.partition("://")
    if not found:
        scheme, rest = "http", proxy_display
    return f"{scheme}://<credentials>@{rest.rpartition('@')[2]} with USER:PASSWORD as <credentials>"
