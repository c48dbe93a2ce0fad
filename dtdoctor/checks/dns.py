"""``dns``: does every remote host name resolve, to which addresses, how fast?"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from dtdoctor.checks import config_url
from dtdoctor.checks.base import Check, Finding, Probe, constant
from dtdoctor.core.codes import Code, codes, emits, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
from dtdoctor.net import dns_query
from dtdoctor.net.proxy import ProxyChoice, route
from dtdoctor.net.resolve import Resolution, resolve

ID = "dns"

CODES = codes(
    Code("dns.ok", Status.PASS, "The host name resolves to at least one address."),
    Code(
        "dns.failed",
        Status.FAIL,
        "The host name does not resolve.",
        "A typo in the URL or the environment id, a name that exists only in another network's DNS "
        "(split horizon), or a resolver that cannot be reached.",
        "Check the host name in the URL; test with `getent hosts <host>`; check the nameservers in "
        "/etc/resolv.conf and that this host may reach them (UDP and TCP port 53).",
    ),
    Code(
        "dns.proxied",
        Status.SKIP,
        "The host is reached through a proxy, which resolves the name; this host need not.",
        "A proxy applies to every endpoint on that host.",
        "",
    ),
    Code(
        "dns.timeout",
        Status.FAIL,
        "The resolver did not answer within the timeout.",
        "The configured nameservers are unreachable or overloaded.",
        "Check the nameservers in /etc/resolv.conf and that this host may reach them (UDP and TCP port 53); "
        "test with `getent hosts <host>`. Behind systemd-resolved's stub (127.0.0.53) the servers it forwards "
        "to (/run/systemd/resolve/resolv.conf, `resolvectl status`) are asked too, and the silent one is named.",
    ),
    Code(
        "dns.nodata",
        Status.FAIL,
        "The name exists, but has no address (A or AAAA) record (NODATA).",
        "The DNS zone publishes other records for the name but no address, or the URL names a host that is "
        "not meant to be connected to.",
        "Check that the URL names the right host; ask whoever runs the DNS zone to publish its address.",
    ),
    Code(
        "dns.servfail",
        Status.FAIL,
        "The resolver answered SERVFAIL: it could not get an answer itself.",
        "The resolver's own upstream servers fail or cannot be reached, the zone's servers are broken, or a "
        "DNSSEC validation failed on the resolver.",
        "Ask whoever runs the resolver named in the summary to check its upstream servers and DNSSEC "
        "validation for the name (`dig <host> @<resolver>`). Behind systemd-resolved's stub (127.0.0.53), the "
        "server it forwards to that answered SERVFAIL is the one named.",
    ),
    Code(
        "dns.refused",
        Status.FAIL,
        "The resolver answered REFUSED: it will not resolve this name for this host.",
        "A resolver that allows recursion only to some clients or serves only its own zones, or a wrong "
        "nameserver in /etc/resolv.conf.",
        "Use a resolver that serves this host (the nameservers in /etc/resolv.conf), or ask whoever runs the "
        "named resolver to allow recursion for this host's address.",
    ),
)

_ADVICE = {
    "EAI_NONAME": "the name does not exist: check the URL and the environment id for a typo",
    "EAI_NODATA": "the name exists but has no address records",
    "EAI_AGAIN": "temporary failure: the resolver could not be reached or did not answer",
    "EAI_FAIL": "the resolver failed permanently for this name",
}


def hosts(ctx: RunContext) -> list[str]:
    """Every remote host name once, in configuration order."""
    seen: list[str] = []
    for endpoint in ctx.settings.remote_endpoints:
        if endpoint.host.lower() not in (h.lower() for h in seen):
            seen.append(endpoint.host)
    return seen


def nameservers(ctx: RunContext) -> list[str]:
    return dns_query.nameservers(ctx.path("/"))


def lookup(ctx: RunContext, host: str, timeout: float) -> Finding:
    """The system resolver first; when it fails, each configured resolver asked what it says."""
    resolution = resolve(host, timeout)
    servers = nameservers(ctx)
    if resolution.ok or resolution.literal or not servers:
        return judge(resolution, servers)
    # Behind systemd-resolved's stub, the servers it forwards to are asked too, at the same time.
    upstreams = dns_query.stub_upstreams(ctx.path("/"), servers)
    answers = dns_query.ask_all(host, [*servers, *(server for server in upstreams if server not in servers)], timeout)
    return judge(resolution, servers, answers, upstreams)


# Classify: what the first resolver that gave a clear answer said -> the code and its words. ``configured`` is
# where this host's resolvers are set: /etc/resolv.conf, or systemd-resolved's servers behind its stub.
_ANSWERS: dict[str, tuple[str, str, str]] = {
    dns_query.NXDOMAIN: (
        "dns.failed",
        "resolver {server} answered NXDOMAIN: {host} does not exist",
        "Check the host name in the URL and the environment id for a typo; if the name is right, resolver "
        "{server} does not know it (a name only another network's DNS has: ask whoever runs {server}).",
    ),
    dns_query.NODATA: (
        "dns.nodata",
        "resolver {server} knows {host} but has no address (A/AAAA) record for it (NODATA)",
        "Check that the URL names the right host; ask whoever runs the DNS zone of {host} to publish its address.",
    ),
    dns_query.SERVFAIL: (
        "dns.servfail",
        "resolver {server} answered SERVFAIL for {host}: it could not get an answer itself (its upstream "
        "servers, or a DNSSEC validation failure)",
        "Ask whoever runs resolver {server} to check its upstream servers and DNSSEC validation for {host} "
        "(`dig {host} @{address}`).",
    ),
    dns_query.REFUSED: (
        "dns.refused",
        "resolver {server} answered REFUSED for {host}: it will not resolve this name for this host",
        "Use a resolver that serves this host in {configured}, or ask whoever runs {server} to allow "
        "recursion for this host.",
    ),
}
_SILENT = (
    "dns.timeout",
    "no answer for {host} from resolver {server}: it does not answer at all",
    "Check that this host may reach {address} on UDP and TCP port 53, and that it runs; or use another resolver "
    "in {configured}.",
)
_RESOLV_CONF = "/etc/resolv.conf"
_RESOLVED_SERVERS = "systemd-resolved's DNS servers (`resolvectl status`, /etc/systemd/resolved.conf)"


def _server_name(server: str, upstreams: list[str]) -> str:
    if upstreams:
        return f"{server} (systemd-resolved, forwarding to {', '.join(upstreams)})"
    return server


def _asked(resolution: Resolution, answers: list[dns_query.ServerAnswer], upstreams: list[str]) -> Finding | None:
    """The verdict from the resolvers' own answers, when they were clear: the servers behind
    systemd-resolved's stub first (the stub only relays what they say, or answers SERVFAIL for their silence),
    then the resolvers /etc/resolv.conf names."""
    behind = [answer for answer in answers if answer.server in upstreams]
    named = [answer for answer in answers if answer.server not in upstreams]
    stub = next((answer.server for answer in named if answer.server in dns_query.STUB), dns_query.STUB[0])

    def upstream(server: str) -> str:
        return f"{server} (behind systemd-resolved's stub {stub} on this host)"

    found = _unless_relayed(_decisive(resolution, behind, upstream, _RESOLVED_SERVERS), named)
    return found or _decisive(resolution, named, lambda server: _server_name(server, upstreams), _RESOLV_CONF)


def _unless_relayed(found: Finding | None, named: list[dns_query.ServerAnswer]) -> Finding | None:
    """The servers' silence behind the stub, unless the stub relayed a clear answer (not the SERVFAIL it gives
    for their silence): a server behind it answered it, though not dtdoctor's own query (DNS over TLS, a
    firewall open to systemd-resolved's way out only), so what it relayed is the verdict, not a timeout."""
    relayed = any(
        answer.server in dns_query.STUB and answer.answer in _ANSWERS and answer.answer != dns_query.SERVFAIL
        for answer in named
    )
    return None if found is not None and found.code == "dns.timeout" and relayed else found


def _decisive(
    resolution: Resolution, answers: list[dns_query.ServerAnswer], named: Callable[[str], str], configured: str
) -> Finding | None:
    """The first clear answer among ``answers``, or their silence when none answered at all."""
    clear = next((answer for answer in answers if answer.answer in _ANSWERS), None)
    if clear is not None:
        code, summary, fix = _ANSWERS[clear.answer]
        server, address = named(clear.server), clear.server
    elif answers and all(answer.answer == dns_query.SILENT for answer in answers):
        code, summary, fix = _SILENT
        server = ", ".join(named(answer.server) for answer in answers)
        address = ", ".join(answer.server for answer in answers)
    else:
        return None
    words = {"server": server, "address": address, "host": resolution.host, "configured": configured}
    return Finding(code, summary.format(**words), remediation=fix.format(**words))


def judge(
    resolution: Resolution,
    servers: list[str],
    answers: list[dns_query.ServerAnswer] | None = None,
    upstreams: list[str] | None = None,
) -> Finding:
    finding = _verdict(resolution, servers)
    if not resolution.ok:
        finding = _with_answers(finding, resolution, answers or [], upstreams or [])
    return replace(finding, evidence=_evidence(resolution))


def _with_answers(
    finding: Finding, resolution: Resolution, answers: list[dns_query.ServerAnswer], upstreams: list[str]
) -> Finding:
    """The servers' own answers, when they name the cause better than the system resolver did."""
    asked = _asked(resolution, answers, upstreams)
    if asked is None:
        return finding
    details = {**finding.details, "answers": [answer.to_json() for answer in answers]}
    if upstreams:
        details["stub_upstreams"] = upstreams
    return replace(asked, details=details)


def _evidence(resolution: Resolution) -> Evidence:
    failed = not resolution.ok and not resolution.literal
    error = (resolution.error_name or "timeout") if failed else None
    # An IP address needs no lookup: nothing was measured.
    return Evidence(latency_ms=None if resolution.literal else resolution.elapsed_ms, error=error)


def _verdict(resolution: Resolution, servers: list[str]) -> Finding:
    details: dict[str, object] = {
        "ipv4": resolution.ipv4,
        "ipv6": resolution.ipv6,
        "ms": resolution.elapsed_ms,
    }
    if resolution.literal:
        return Finding("dns.ok", f"{resolution.host} is an IP address: no lookup needed", details)
    if servers:
        details["nameservers"] = servers
    if resolution.ok:
        families = ", ".join(
            f"{len(found)} {label}" for label, found in (("IPv4", resolution.ipv4), ("IPv6", resolution.ipv6)) if found
        )
        return Finding(
            "dns.ok",
            f"resolved to {resolution.addresses[0]} ({families}) in {resolution.elapsed_ms} ms",
            details,
        )
    details["error"] = resolution.error_name or "timeout"
    details["reason"] = resolution.error_message
    if resolution.timed_out:
        return Finding("dns.timeout", f"the resolver gave no answer for {resolution.host} in time", details)
    if resolution.error_name == "EAI_NODATA":
        return Finding("dns.nodata", f"{resolution.host} exists but has no address record (EAI_NODATA)", details)
    advice = _ADVICE.get(resolution.error_name, "")
    reason = f"{resolution.error_message} ({resolution.error_name})"
    return Finding(
        "dns.failed",
        f"cannot resolve {resolution.host}: {reason}" + (f": {advice}" if advice else ""),
        details,
    )


def proxied(host: str, choice: ProxyChoice) -> Finding:
    """Why a name was not resolved here: the proxy resolves it."""
    return Finding(
        "dns.proxied",
        f"not resolved here: {host} is reached through proxy {choice.display} (from {choice.source}), "
        "which resolves it",
        {"proxy": choice.display, "source": choice.source},
        evidence=Evidence(route="proxy", proxy=choice.display),
    )


def plan(ctx: RunContext) -> list[Probe]:
    names = hosts(ctx)
    if names:

        def probe_for(host: str) -> Probe:
            routes = [route(ctx, e) for e in ctx.settings.remote_endpoints if e.host.lower() == host.lower()]
            if routes and all(choice.url is not None for choice in routes):
                return Probe(host, constant(proxied(host, routes[0])))
            # Budget: the system resolver's timeout, then the resolvers asked directly.
            return Probe(host, lambda probe: lookup(probe.run, host, probe.timeout), budget=2.0)

        return [probe_for(host) for host in names]
    return config_url.no_endpoint_probes(ctx)


# What ``judge`` reports for a failed lookup (``tcp`` resolves by itself when dns is not selected).
FAILURE_CODES = subset(CODES, "dns.failed", "dns.proxied", "dns.timeout", "dns.nodata")

CHECK = Check(id=ID, title="DNS resolution", codes=emits(CODES, config_url.NO_ENDPOINT_CODES), plan=plan)
