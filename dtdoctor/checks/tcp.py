"""``tcp``: can this host open a TCP connection to every remote endpoint?

Every resolved address of an endpoint is tried at once; the verdict tells a
refusal (something answered: nothing listens, or a firewall rejects) from a
timeout (packets are dropped) from no route at all.
"""

from __future__ import annotations

from dtdoctor.checks import config_url, dns
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext, constant
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
from dtdoctor.net import tcp as net_tcp
from dtdoctor.net.proxy import ProxyChoice, route
from dtdoctor.net.resolve import resolve

ID = "tcp"

CODES = codes(
    Code("tcp.open", Status.PASS, "A TCP connection to the endpoint succeeds."),
    Code(
        "tcp.proxied",
        Status.SKIP,
        "The endpoint is reached through a proxy, so a direct connection is neither needed nor tried.",
        "A proxy applies to it (--proxy, HTTPS_PROXY or ALL_PROXY, and NO_PROXY does not exclude it).",
        "",
    ),
    Code(
        "tcp.refused",
        Status.FAIL,
        "The connection was actively refused.",
        "Nothing listens on that port (wrong port, service down), or a firewall rejects the connection.",
        "Check the port in the URL and that the service runs; if it does, ask for an outbound firewall rule "
        "from this host to the endpoint's port.",
    ),
    Code(
        "tcp.timeout",
        Status.FAIL,
        "The connection attempt got no answer: packets are silently dropped.",
        "A firewall (on this host, in the network, or in front of the endpoint) drops the traffic.",
        "Ask for an outbound firewall rule from this host to the endpoint's port over TCP "
        "(443 for SaaS and Managed, 9999 for an Environment ActiveGate).",
    ),
    Code(
        "tcp.unreachable",
        Status.FAIL,
        "There is no route to the endpoint.",
        "No default route or no route for that address family (often IPv6), or a router answered "
        "'host unreachable'.",
        "Check the routing table (`ip route`, `ip -6 route`) and the network configuration of this host.",
    ),
)

# Which failure explains an endpoint best when addresses fail differently.
_FAILURE_ORDER = (net_tcp.REFUSED, net_tcp.TIMEOUT, net_tcp.UNREACHABLE)


def remediation(outcome: str, endpoint: Endpoint) -> str:
    rule = f"outbound TCP from this host to {endpoint.host} port {endpoint.port}"
    if outcome == net_tcp.REFUSED:
        return (
            f"Check that {endpoint.address} is the right endpoint and that the service listens on port "
            f"{endpoint.port}; if it does, a firewall rejects the connection: allow {rule}."
        )
    if outcome == net_tcp.TIMEOUT:
        return (
            f"A firewall drops the packets: allow {rule} "
            "(ask the network team; also check this host's own firewall)."
        )
    return f"This host has no route to {endpoint.host}: check `ip route` / `ip -6 route` and the network setup."


def judge(endpoint: Endpoint, attempts: list[net_tcp.Attempt], timeout: float) -> Finding:
    details: dict[str, object] = {"attempts": [attempt.to_json() for attempt in attempts]}
    opened = [attempt for attempt in attempts if attempt.outcome == net_tcp.OPEN]
    if opened:
        best = min(opened, key=lambda attempt: attempt.elapsed_ms)
        details["latency_ms"] = best.elapsed_ms
        failed = [attempt for attempt in attempts if attempt.outcome != net_tcp.OPEN]
        note = f"; {len(failed)} other address(es) failed" if failed else ""
        return Finding("tcp.open", f"connected to {best.address} in {best.elapsed_ms} ms{note}", details,
                       evidence=Evidence(latency_ms=best.elapsed_ms, route="direct"))
    outcome = next(o for o in _FAILURE_ORDER if any(a.outcome == o for a in attempts))
    first = next(a for a in attempts if a.outcome == outcome)
    where = f"{first.address} port {endpoint.port}"
    summaries = {
        net_tcp.REFUSED: f"connection refused by {where}",
        net_tcp.TIMEOUT: f"no answer from {where} within {timeout:g} s: packets are dropped",
        net_tcp.UNREACHABLE: f"no route to {where} ({first.reason})",
    }
    return Finding(f"tcp.{outcome}", summaries[outcome], details, remediation=remediation(outcome, endpoint),
                   evidence=Evidence(route="direct", error=first.reason or outcome))


def probe_endpoint(endpoint: Endpoint, probe: ProbeContext) -> Finding:
    found = probe.result(dns.ID, endpoint.host)
    addresses: list[str] = []
    if found is not None:
        addresses = list(found.details.get("ipv4", [])) + list(found.details.get("ipv6", []))
    if not addresses:  # the dns check was not selected: resolve here
        resolution = resolve(endpoint.host, probe.timeout)
        if not resolution.ok:
            return dns.judge(resolution, [])
        addresses = list(resolution.addresses)
    attempts = net_tcp.connect_all(addresses, endpoint.port, probe.timeout)
    return judge(endpoint, attempts, probe.timeout)


def proxied(what: str, choice: ProxyChoice) -> Finding:
    """Why a direct probe was not made: traffic goes through a proxy, checked by ``proxy``."""
    return Finding(
        "tcp.proxied",
        f"not checked directly: {what} is reached through proxy {choice.display} (from {choice.source}); "
        "the proxy check tests that path",
        {"proxy": choice.display, "source": choice.source},
        evidence=Evidence(route="proxy", proxy=choice.display),
    )


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = ctx.settings.remote_endpoints
    if not endpoints:
        return config_url.no_endpoint_probes(ctx)

    def probe_for(endpoint: Endpoint) -> Probe:
        choice = route(ctx, endpoint)
        if choice.url is not None:
            return Probe(endpoint.address, constant(proxied(endpoint.address, choice)))
        return Probe(
            endpoint.address,
            lambda probe: probe_endpoint(endpoint, probe),
            requires=((dns.ID, endpoint.host),),
        )

    return [probe_for(endpoint) for endpoint in endpoints]


CHECK = Check(
    id=ID,
    title="TCP reachability",
    codes=emits(CODES, dns.FAILURE_CODES, config_url.NO_ENDPOINT_CODES),
    plan=plan,
)
