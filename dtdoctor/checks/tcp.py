"""``tcp``: can this host open a TCP connection to every remote endpoint?

Every resolved address of an endpoint is tried at once, and every port of
the same host with it (one timeout for all), so a port that answers is
evidence about one that fails. The verdict tells a firewall's ICMP rejection
(naming the device that sent it) from a TCP reset (which a closed port and a
firewall's tcp-reset make alike) from a router that cannot reach the host,
an on-link address nobody answers ARP for, dropped packets, and this host's
own missing route.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Sequence

from dtdoctor.checks import config_url, dns
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
from dtdoctor.net import proxy_cause
from dtdoctor.net import tcp as net_tcp
from dtdoctor.net.proxy import ProxyChoice, credentials_example, route
from dtdoctor.net.resolve import resolve
from dtdoctor.net.tunnel import NO_ANSWER, TIMEOUT, TunnelError

ID = "tcp"

CODES = codes(
    Code("tcp.open", Status.PASS, "A TCP connection to the endpoint succeeds."),
    Code(
        "tcp.proxied",
        Status.SKIP,
        "The endpoint is reached through a proxy, so a direct connection is neither needed nor tried "
        "(reports of dtdoctor before its tunnel codes; now the tunnel itself is judged: tcp.tunnel_open).",
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
        "'host unreachable' or 'net unreachable' (the summary names it).",
        "Check the routing table (`ip route`, `ip -6 route`) and the network configuration of this host; when a "
        "router answered, ask the team that runs it whether the endpoint is reachable from there.",
    ),
    Code(
        "tcp.rejected",
        Status.FAIL,
        "A firewall rejects the connection: a device answered with an ICMP error that says so.",
        "A firewall rule rejecting the port with ICMP admin-prohibited, host-prohibited or port-unreachable, "
        "or with host-unreachable while another port on the same address answers (the summary names the "
        "device that sent the error).",
        "Ask the team that runs the device named in the summary to allow outbound TCP from this host to the "
        "endpoint's port (443 for SaaS and Managed, 9999 for an Environment ActiveGate).",
    ),
    Code("tcp.tunnel_open", Status.PASS, "The proxy opened a CONNECT tunnel to the endpoint."),
    Code(
        "tcp.tunnel_refused",
        Status.FAIL,
        "The proxy refuses to open a tunnel to this endpoint: its rules forbid the destination or its port.",
        "A proxy policy that allows CONNECT only to some ports (Debian's squid: 443 only) or some hosts, or a "
        "proxy that wants credentials for it (407).",
        "Ask the proxy's administrators to allow CONNECT from this host to the endpoint's host and port "
        "(443, or 9999 for an Environment ActiveGate); the summary quotes the proxy's reason.",
    ),
    Code(
        "tcp.tunnel_failed",
        Status.FAIL,
        "The proxy tried to open a tunnel to this endpoint and failed: it cannot resolve, reach or connect "
        "to it.",
        "The proxy's DNS does not know the name, it has no way to forward (its parent proxies are down, direct "
        "connections are not allowed), its own outbound firewall blocks the destination, the destination is "
        "down, or its connection timed out (the summary quotes the proxy's reason). squid's ERR_CANNOT_FORWARD "
        "is the same answer for a name it cannot resolve and for no way out: the summary says it cannot tell.",
        "Ask the proxy's administrators why the proxy cannot reach the endpoint (the summary names the cause); "
        "check the host name in the URL.",
    ),
    Code(
        "tcp.no_neighbor",
        Status.FAIL,
        "The endpoint's address is on this host's own network, but no device answers for it (ARP or IPv6 "
        "neighbour discovery gets no reply).",
        "The device with that address is down or unplugged, the address is wrong (a stale DNS record or "
        "hosts entry), or it is on another VLAN.",
        "Check that the host name resolves to the right address; check that the device is up on this "
        "network (`ip neigh show <address>` shows FAILED or INCOMPLETE).",
    ),
)

# Which failure explains an endpoint best when addresses fail differently: ICMP evidence outranks silence.
_FAILURE_RANK = {
    net_tcp.REJECTED: 0,
    net_tcp.REFUSED: 1,
    net_tcp.NO_NEIGHBOR: 2,
    net_tcp.TIMEOUT: 4,
}


def _rank(attempt: net_tcp.Attempt) -> int:
    if attempt.outcome == net_tcp.UNREACHABLE:
        return 3 if attempt.icmp is not None else 5
    return _FAILURE_RANK.get(attempt.outcome, 6)


def classify(attempt: net_tcp.Attempt, open_ports: list[int]) -> str:
    """The code for a failed attempt; ``open_ports`` are other ports of the same address that answered."""
    router_said_unreachable = attempt.outcome == net_tcp.UNREACHABLE and attempt.icmp is not None
    if router_said_unreachable and open_ports:
        return "tcp.rejected"  # the host is up, so "unreachable" for this port alone is a filter
    return f"tcp.{attempt.outcome}"


# What a reader is told: (code, whether a router sent ICMP) -> summary and remediation templates.
# Fields: {where} address and port, {sender} the ICMP sender, {icmp} its name, {port}, {host}, {up} note.
_WORDS: dict[tuple[str, bool], tuple[str, str]] = {
    ("tcp.rejected", True): (
        "{sender} answered {icmp} for {where}: a firewall rejects port {port}{up}",
        "Ask the team that runs the firewall at {sender} to allow outbound TCP from this host to {host} "
        "port {port}.",
    ),
    ("tcp.refused", False): (
        "connection refused by {where} (TCP reset): nothing listens on port {port}, or a firewall resets the "
        "connection; the two look exactly alike from here{up}",
        "Check that the service on {host} listens on port {port} (ask whoever runs it); if it does, a firewall "
        "resets the connection: ask the network team to allow outbound TCP from this host to {host} port {port}.",
    ),
    ("tcp.unreachable", True): (
        "router {sender} answered {icmp} for {where}: it cannot reach that host (down or gone, or a firewall "
        "that rejects with this ICMP type; dtdoctor cannot tell which)",
        "Ask the team that runs {sender} whether {host} is reachable from there and whether a rule rejects "
        "port {port}; check that {host} resolves to the right address.",
    ),
    ("tcp.unreachable", False): (
        "this host has no route to {where} ({reason}); no router was involved",
        "This host has no route to {host}: check `ip route` / `ip -6 route` and the network setup.",
    ),
    ("tcp.no_neighbor", False): (
        "no device answers {lookup} for {address}: the address is on this host's own network, but nobody "
        "owns it (down, unplugged, or a wrong address)",
        "Check that {host} resolves to the right address and that the device with {address} is up on this "
        "network (`ip neigh show {address}`); ask whoever runs it.",
    ),
    ("tcp.timeout", False): (
        "no answer from {where} within {timeout:g} s: packets are dropped",
        "A firewall drops the packets: allow outbound TCP from this host to {host} port {port} "
        "(ask the network team; also check this host's own firewall).",
    ),
}


def _up_note(open_ports: list[int]) -> str:
    if not open_ports:
        return ""
    ports = ", ".join(str(port) for port in open_ports)
    return f"; port {ports} on the same address answered in this run, so the host is up"


def judge(
    endpoint: Endpoint, attempts: list[net_tcp.Attempt], timeout: float, neighbours: Sequence[net_tcp.Attempt] = ()
) -> Finding:
    """The verdict for one endpoint; ``neighbours`` are this run's attempts at other ports of the same host."""
    details: dict[str, object] = {"attempts": [attempt.to_json() for attempt in attempts]}
    opened = [attempt for attempt in attempts if attempt.outcome == net_tcp.OPEN]
    if opened:
        best = min(opened, key=lambda attempt: attempt.elapsed_ms)
        details["latency_ms"] = best.elapsed_ms
        failed = [attempt for attempt in attempts if attempt.outcome != net_tcp.OPEN]
        note = f"; {len(failed)} other address(es) failed" if failed else ""
        return Finding("tcp.open", f"connected to {best.address} in {best.elapsed_ms} ms{note}", details,
                       evidence=Evidence(latency_ms=best.elapsed_ms, route="direct"))
    first = min(attempts, key=_rank)
    open_ports = sorted(
        {n.port for n in neighbours if n.address == first.address and n.outcome == net_tcp.OPEN} - {endpoint.port}
    )
    if open_ports:
        details["open_ports_same_address"] = open_ports
    code = classify(first, open_ports)
    summary, fix = _WORDS[(code, first.icmp is not None and code != "tcp.no_neighbor")]
    fields = {
        "where": f"{first.address} port {endpoint.port}", "address": first.address, "port": endpoint.port,
        "host": endpoint.host, "timeout": timeout, "reason": first.reason, "up": _up_note(open_ports),
        "sender": first.icmp.sender if first.icmp else "", "icmp": first.icmp.name if first.icmp else "",
        "lookup": "IPv6 neighbour discovery" if ":" in first.address else "ARP",
    }
    return Finding(code, summary.format(**fields), details, remediation=fix.format(**fields),
                   evidence=Evidence(route="direct", error=first.reason or first.outcome))


# Classify a tunnel failure by the proxy's own words (net.proxy_cause), then word it here.
_TUNNEL_WORDS: dict[str, tuple[str, str, str]] = {
    proxy_cause.POLICY: (
        "tcp.tunnel_refused",
        "proxy {proxy} refuses CONNECT to {dest} ({status}{evidence}): its rules forbid this destination"
        "{port_note}",
        "Ask the administrators of proxy {proxy} to allow CONNECT from this host to {host} port {port}{rule}.",
    ),
    proxy_cause.AUTH: (
        "tcp.tunnel_refused",
        "proxy {proxy} wants credentials (407) for CONNECT {dest}",
        "See the proxy result; put the credentials in the proxy URL (--proxy {credentials}).",
    ),
    proxy_cause.DNS: (
        "tcp.tunnel_failed",
        "proxy {proxy} cannot resolve {host} ({status}{evidence})",
        "Ask the administrators of proxy {proxy} to check its DNS: it must resolve {host}.",
    ),
    proxy_cause.FORWARD: (
        "tcp.tunnel_failed",
        "proxy {proxy} could not forward to {dest} ({status}{evidence}): it cannot resolve {host}, or it has no "
        "way to forward (a parent proxy down, direct connections not allowed){forward_note}",
        "Ask the administrators of proxy {proxy} whether it can resolve {host} (its DNS) and whether it has a way "
        "out to {host} port {port} (its parent proxies, its never_direct or other forwarding rules); check the "
        "host name in the URL.",
    ),
    proxy_cause.CONNECT: (
        "tcp.tunnel_failed",
        "proxy {proxy} cannot connect to {dest} ({status}{evidence})",
        "Ask the administrators of proxy {proxy} whether it may connect to {host} port {port} (its own "
        "outbound firewall) and whether {host} is up.",
    ),
    proxy_cause.TIMEOUT: (
        "tcp.tunnel_failed",
        "proxy {proxy} timed out connecting to {dest} ({status}{evidence})",
        "Ask the administrators of proxy {proxy} whether its path to {host} port {port} drops packets.",
    ),
    proxy_cause.ORIGIN_TLS: (
        "tcp.tunnel_failed",
        "proxy {proxy} inspects TLS and rejected {host}'s certificate or handshake ({status}{evidence})",
        "The proxy judged the server's certificate: see the reason; ask the proxy's administrators, or whoever "
        "runs {host} if its certificate is at fault.",
    ),
    proxy_cause.UNKNOWN: (
        "tcp.tunnel_failed",
        "proxy {proxy} answered CONNECT {dest} with {status}{evidence}; it gave no reason dtdoctor recognises",
        "Ask the administrators of proxy {proxy} what the answer means for {host} port {port}.",
    ),
}
_SILENT_TUNNEL = (
    "tcp.tunnel_failed",
    "proxy {proxy} took CONNECT {dest} but said nothing within {timeout:g} s{note}: {silence}",
    "Ask the administrators of proxy {proxy} whether its path to {host} port {port} is open.",
)


_STILL_TRYING = "it is most likely still trying to reach the destination (packets dropped on its side)"
# Reaching the proxy used up much of the tunnel's timeout: the proxy may just be slow.
_SLOW_PROXY = (
    "the proxy itself is slow, or it is still trying to reach the destination; dtdoctor cannot tell which "
    "(a longer --timeout can)"
)


_PROXY_FAILED = (
    "tcp.tunnel_failed",
    "no tunnel to {dest}: the proxy {proxy} itself failed ({status})",
    "Fix the proxy setting or the way to the proxy first (see the proxy result: dtdoctor check --only proxy).",
)


def _squid_notes(kind: str, said: dict[str, str], port: int) -> dict[str, str]:
    """What squid's own answer adds to the words: its CONNECT rules, and what ERR_CANNOT_FORWARD cannot tell."""
    if kind == proxy_cause.POLICY and "squid" in said.get("server", "") + said.get("via", ""):
        note = f"; squid's default allows CONNECT to port 443 only, not {port}" if port != 443 else ""
        return {"rule": " (squid: the SSL_ports ACL and http_access rules)", "port_note": note}
    if kind == proxy_cause.FORWARD and said.get("x-squid-error", "").startswith("ERR_CANNOT_FORWARD"):
        # squid's bug 5294: a failed lookup is ERR_CANNOT_FORWARD too, and that page has no DNS detail.
        return {"forward_note": "; squid gives this one answer for both, and its page does not say which"}
    return {}


def tunnel_verdict(
    endpoint: Endpoint, choice: ProxyChoice, error: TunnelError | None, timeout: float
) -> Finding:
    """The verdict on one endpoint's tunnel through a proxy (``error`` None: it opened)."""
    proxy = choice.display
    details: dict[str, object] = {"proxy": proxy, "source": choice.source}
    evidence = Evidence(route="proxy", proxy=proxy)
    if error is None:
        return Finding("tcp.tunnel_open", f"proxy {proxy} (from {choice.source}) opened a tunnel to "
                       f"{endpoint.address}", details, evidence=evidence)
    details.update({"stage": error.stage, "status": error.status, "proxy_said": dict(error.said)})
    fields = {"proxy": proxy, "dest": endpoint.address, "host": endpoint.host, "port": endpoint.port,
              "timeout": timeout, "status": error.status or "", "evidence": "", "port_note": "", "rule": "",
              "forward_note": "", "credentials": credentials_example(proxy), "note": error.note,
              "silence": _SLOW_PROXY if error.note else _STILL_TRYING}
    if error.status is None:
        silent = error.stage == TIMEOUT and error.reason == NO_ANSWER
        template = _SILENT_TUNNEL if silent else _PROXY_FAILED
        fields["status"] = error.message
    else:
        cause = proxy_cause.classify(error.status, error.said)
        template = _TUNNEL_WORDS[cause.kind]
        fields["evidence"] = f", {cause.evidence}" if cause.evidence else ""
        details["cause"] = cause.kind
        fields.update(_squid_notes(cause.kind, error.said, endpoint.port))
    code, summary, fix = template
    return Finding(code, summary.format(**fields), details, remediation=fix.format(**fields),
                   evidence=replace(evidence, http_status=error.status, error=error.stage))


def probe_tunnel(endpoint: Endpoint, choice: ProxyChoice, probe: ProbeContext) -> Finding:
    """The endpoint's tunnel as the proxy probe opened it, or opened here when the proxy check did not run."""
    from dtdoctor.checks import proxy as proxy_check

    opened = probe.fact(proxy_check.ID, proxy_check.proxy_target(choice))
    if isinstance(opened, dict) and endpoint.address in opened:
        return tunnel_verdict(endpoint, choice, opened[endpoint.address], probe.timeout)
    return tunnel_verdict(endpoint, choice, proxy_check.try_tunnel(choice, endpoint, probe), probe.timeout)


def host_attempts(ctx: RunContext, endpoint: Endpoint, addresses: list[str], timeout: float) -> list[net_tcp.Attempt]:
    """This run's connects to every directly reached port of the endpoint's host, made once, all at once.

    Each endpoint's probe reads the others' outcomes from here: a port that
    answers is evidence about one that fails, and gathering it costs no
    extra timeout and no dependency between probes.
    """
    ports = sorted(
        {e.port for e in ctx.settings.remote_endpoints if e.host == endpoint.host and route(ctx, e).url is None}
        | {endpoint.port}
    )
    lock = ctx.memo(f"tcp.host-lock:{endpoint.host}", threading.Lock)
    with lock:
        return ctx.memo(
            f"tcp.host:{endpoint.host}:{','.join(addresses)}",
            lambda: net_tcp.connect_pairs([(a, p) for p in ports for a in addresses], timeout),
        )


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
    every = host_attempts(probe.run, endpoint, addresses, probe.timeout)
    mine = [attempt for attempt in every if attempt.port == endpoint.port]
    return judge(endpoint, mine, probe.timeout, [attempt for attempt in every if attempt.port != endpoint.port])


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = ctx.settings.remote_endpoints
    if not endpoints:
        return config_url.no_endpoint_probes(ctx)

    def probe_for(endpoint: Endpoint) -> Probe:
        choice = route(ctx, endpoint)
        if choice.url is not None:
            from dtdoctor.checks import proxy as proxy_check

            return Probe(
                endpoint.address,
                lambda probe: probe_tunnel(endpoint, choice, probe),
                requires=((proxy_check.ID, proxy_check.proxy_target(choice)),),
                budget=2.0,
            )
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
