"""``dns``: does every remote host name resolve, to which addresses, how fast?"""

from __future__ import annotations

from dataclasses import replace

from dtdoctor.checks import config_url
from dtdoctor.checks.base import Check, Finding, Probe, constant
from dtdoctor.core.codes import Code, codes, emits, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
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
        "test with `getent hosts <host>`.",
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
    try:
        lines = ctx.path("/etc/resolv.conf").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def judge(resolution: Resolution, servers: list[str]) -> Finding:
    finding = _verdict(resolution, servers)
    failed = not resolution.ok and not resolution.literal
    error = (resolution.error_name or "timeout") if failed else None
    # An IP address needs no lookup: nothing was measured.
    evidence = Evidence(latency_ms=None if resolution.literal else resolution.elapsed_ms, error=error)
    return replace(finding, evidence=evidence)


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
            return Probe(host, lambda probe: judge(resolve(host, probe.timeout), nameservers(probe.run)))

        return [probe_for(host) for host in names]
    return config_url.no_endpoint_probes(ctx)


# What ``judge`` reports for a failed lookup (``tcp`` resolves by itself when dns is not selected).
FAILURE_CODES = subset(CODES, "dns.failed", "dns.proxied", "dns.timeout")

CHECK = Check(id=ID, title="DNS resolution", codes=emits(CODES, config_url.NO_ENDPOINT_CODES), plan=plan)
