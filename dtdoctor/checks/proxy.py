"""``proxy``: does the forward proxy that applies to the remote endpoints work?

The proxy is chosen as curl and Python clients choose it (``--proxy``, then
``https_proxy``/``HTTPS_PROXY``/``ALL_PROXY``, honouring ``NO_PROXY``). One
result per proxy (target: the proxy's ``host:port``): TCP to it, then an
HTTP ``CONNECT`` to every endpoint it serves. When no proxy applies, one
``proxy.none`` result says which settings exist and why they do not apply.
The ``tls`` and ``clock`` checks go through the same tunnel.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

from dtdoctor.checks import config_url, tcp
from dtdoctor.checks.base import NO_TARGET, Check, Finding, Probe, ProbeContext, ResultKey, constant
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes, emits, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
from dtdoctor.net import proxy_cause
from dtdoctor.net.proxy import ProxyChoice, credentials_example, route
from dtdoctor.net.tunnel import (
    NO_ANSWER,
    PROXY_STAGES,
    PROXY_TLS,
    STATUS,
    TIMEOUT,
    TunnelError,
    connect_to_proxy,
    diagnosis_s,
    open_tunnel,
    parse_proxy,
)

ID = "proxy"

CODES = codes(
    Code("proxy.ok", Status.PASS, "The proxy accepts a CONNECT tunnel to every endpoint it serves."),
    Code(
        "proxy.none",
        Status.SKIP,
        "No proxy applies to the remote endpoints: they are reached directly.",
        "No --proxy, HTTPS_PROXY, https_proxy or ALL_PROXY is set, or NO_PROXY sends the endpoints direct.",
        "Nothing to do if this host may connect directly. If it must use a proxy, pass --proxy URL or set "
        "HTTPS_PROXY (HTTP_PROXY does not apply to https:// URLs).",
    ),
    Code(
        "proxy.failed",
        Status.FAIL,
        "The proxy cannot be reached or refuses to open a tunnel to the endpoint.",
        "A wrong proxy host or port, a proxy that is down, or a proxy policy that blocks the destination "
        "(403) or cannot reach it (502, 503, 504). For an https:// proxy (TLS to the proxy itself): its own "
        "certificate is not trusted here, has expired, or is not issued for the name in the URL, or the port "
        "speaks plain HTTP; the summary names the proxy's certificate, never the destination's.",
        "Check the proxy URL and port; ask the proxy's administrators to allow CONNECT to the Dynatrace "
        "endpoint's host and port (443, or 9999 for an Environment ActiveGate). For an https:// proxy, pass "
        "the CA of its own certificate with --ca-bundle, have an expired one renewed, use a name its "
        "certificate covers, or write http:// for a proxy that speaks plain HTTP.",
    ),
    Code(
        "proxy.auth_required",
        Status.FAIL,
        "The proxy demands credentials (407 Proxy Authentication Required) that were not given or not accepted.",
        "The proxy URL has no user:password, or they are wrong, or the proxy wants another scheme "
        "(NTLM, Kerberos) than Basic.",
        "Put the credentials in the proxy URL, keeping its scheme: --proxy http://<credentials>@proxy:PORT "
        "with USER:PASSWORD as <credentials> (https:// for a proxy reached over TLS), or in HTTPS_PROXY; the "
        "same setting is needed for OneAgent (oneagentctl --set-proxy).",
    ),
)

# What ``tunnel_finding`` reports (the tls check uses it when its tunnel fails).
TUNNEL_CODES = subset(CODES, "proxy.failed", "proxy.auth_required")


def proxy_target(choice: ProxyChoice) -> str:
    """The proxy's ``host:port``: the target of its ``proxy`` result."""
    assert choice.url is not None
    try:
        return parse_proxy(choice.url).address
    except TunnelError:
        return choice.display


def route_requirements(ctx: RunContext, endpoint: Endpoint) -> tuple[ResultKey, ...]:
    """What a probe that talks to the endpoint needs: its ``tcp`` result (a direct connect, or its tunnel
    through the proxy, judged on its own so one refused port never holds back another)."""
    return ((tcp.ID, endpoint.address),)


def route_details(choice: ProxyChoice) -> dict[str, object]:
    """How an endpoint is reached, for every result's details (credentials never shown)."""
    details: dict[str, object] = {"via": "direct" if choice.direct else "proxy"}
    details.update(choice.to_json())
    return details


def route_evidence(choice: ProxyChoice, **facts: Any) -> Evidence:
    """How an endpoint was reached, as typed evidence, beside the probe's other typed facts."""
    if choice.direct:
        return Evidence(route="direct", **facts)
    return Evidence(route="proxy", proxy=choice.display, **facts)


def describe_route(choice: ProxyChoice) -> str:
    if choice.url is not None:
        return f"via proxy {choice.display} (from {choice.source})"
    if choice.bypass:
        return f"direct ({choice.bypass})"
    return "direct"


def tunnel_finding(error: TunnelError, proxy_display: str, destination: str) -> Finding:
    """A tunnel failure as a ``proxy`` finding (also used by other checks when ``proxy`` did not run)."""
    details: dict[str, object] = {"proxy": proxy_display, "destination": destination, "stage": error.stage}
    if error.status is not None:
        details["status"] = error.status
        details["reason"] = error.reason
    evidence = Evidence(route="proxy", proxy=proxy_display, http_status=error.status,
                        error=None if error.status is not None else error.reason or error.stage)
    if error.status == 407:
        return _auth_finding(error, proxy_display, destination, details, evidence)
    remediation = _tunnel_fix(error, destination)
    return Finding("proxy.failed", error.message, details, remediation=remediation, evidence=evidence)


# What to do about a refused CONNECT, by the proxy's status ({destination} and {status} are filled in).
_STATUS_FIXES = {
    403: "The proxy's policy forbids CONNECT to {destination}: ask its administrators to allow it.",
    **dict.fromkeys(
        (502, 503, 504),
        "The proxy itself cannot reach {destination} ({status}): ask its administrators whether it "
        "may connect there, and check the host name.",
    ),
}
# What to do when TLS to an https:// proxy failed, by why it failed.
_PROXY_TLS_FIXES = {
    "plain_http": (
        "Write the proxy URL with http:// (the scheme is how a client talks to the proxy, not to Dynatrace: "
        "HTTPS to Dynatrace still travels encrypted through the CONNECT tunnel), in HTTPS_PROXY/https_proxy, "
        "--proxy and the OneAgent or ActiveGate proxy setting."
    ),
    "name": (
        "Write the proxy URL with a name its certificate covers (the details show the error), or have the "
        "proxy's certificate reissued to include the name you use."
    ),
    "verify": (
        "Pass the CA that issued the proxy's own certificate with --ca-bundle (and install it system-wide), "
        "or use the proxy's http:// port if it has one."
    ),
    "expired": (
        "Ask the proxy's administrators to renew its own certificate; if its dates look right, check this "
        "host's clock (the clock check)."
    ),
    "not_yet_valid": (
        "Check this host's clock (the clock check): it may be behind; otherwise the proxy's own certificate was "
        "issued with a start date in the future and its administrators must replace it."
    ),
}
_PROXY_TLS_OTHER = "Check that the proxy's port speaks TLS (an https:// proxy URL); most proxies need http://."


def _tunnel_fix(error: TunnelError, destination: str) -> str | None:
    if error.stage == STATUS and error.status is not None and error.status in _STATUS_FIXES:
        return _STATUS_FIXES[error.status].format(destination=destination, status=error.status)
    if error.stage == PROXY_TLS:
        return _PROXY_TLS_FIXES.get(error.reason, _PROXY_TLS_OTHER)
    return None


def _auth_finding(
    error: TunnelError, proxy_display: str, destination: str, details: dict[str, object], evidence: Evidence
) -> Finding:
    """A 407: credentials missing, rejected, or of a scheme dtdoctor cannot speak."""
    schemes = proxy_cause.offered_schemes(error.said)
    details["offered_schemes"] = schemes
    if not proxy_cause.basic_offered(error.said):
        return Finding(
            "proxy.auth_required",
            f"the proxy {proxy_display} accepts only {' or '.join(schemes)} authentication (407 for CONNECT "
            f"{destination}); dtdoctor can speak Basic only",
            details,
            remediation=(
                f"Ask the proxy's administrators for a port or rule that accepts Basic authentication, or that "
                f"lets this host reach Dynatrace without authentication; dtdoctor cannot check through a proxy "
                f"that wants {' or '.join(schemes)}."
            ),
            evidence=evidence,
        )
    if error.credentials_sent:
        return Finding(
            "proxy.auth_required",
            f"the proxy {proxy_display} rejected the credentials in the proxy URL (407 for CONNECT {destination} "
            "although Proxy-Authorization was sent)",
            details,
            remediation=(
                "Check the user name and password in the proxy URL; write special characters percent-encoded "
                "(@ as %40, : as %3A, / as %2F, % as %25). Ask the proxy's administrators whether the account "
                "is locked or needs another domain prefix."
            ),
            evidence=evidence,
        )
    return Finding(
        "proxy.auth_required",
        f"the proxy {proxy_display} wants credentials (407) for CONNECT {destination}; none were sent",
        details,
        remediation=(
            f"Put the credentials in the proxy URL: --proxy {credentials_example(proxy_display)} (or HTTPS_PROXY); "
            "the same setting is needed for OneAgent (oneagentctl --set-proxy)."
        ),
        evidence=evidence,
    )


def try_tunnel(choice: ProxyChoice, endpoint: Endpoint, probe: ProbeContext) -> TunnelError | None:
    """Open and close one tunnel to the endpoint: None when it opened, else why not."""
    assert choice.url is not None
    try:
        proxy = parse_proxy(choice.url)
        tunnel = open_tunnel(proxy, endpoint.host, endpoint.port, probe.timeout, probe.run.settings.ca_bundle)
    except TunnelError as exc:
        return exc
    tunnel.sock.close()
    return None


def _open_all(choice: ProxyChoice, endpoints: list[Endpoint], probe: ProbeContext) -> dict[str, TunnelError | None]:
    """Every endpoint's tunnel, opened concurrently: N dead tunnels cost one timeout, not N."""
    opened: dict[str, TunnelError | None] = {}

    def one(endpoint: Endpoint) -> None:
        opened[endpoint.address] = try_tunnel(choice, endpoint, probe)

    workers = [threading.Thread(target=one, args=(endpoint,), daemon=True) for endpoint in endpoints]
    for worker in workers:
        worker.start()
    # Each tunnel opens within one timeout, and names its failure within diagnosis_s more (net.tunnel).
    deadline = time.monotonic() + probe.timeout + diagnosis_s(probe.timeout) + 0.5
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    return {
        endpoint.address: opened.get(
            endpoint.address,
            TunnelError(TIMEOUT, f"no answer from the proxy within {probe.timeout:g} s", reason=NO_ANSWER),
        )
        for endpoint in endpoints
    }


def _proxy_level(error: TunnelError | None) -> bool:
    """Whether a tunnel failed because of the proxy itself (every tunnel would), not its destination."""
    if error is None:
        return False
    return error.status == 407 or error.stage in PROXY_STAGES or (error.stage == TIMEOUT and error.reason != NO_ANSWER)


def _silent(error: TunnelError | None) -> bool:
    return error is not None and error.stage == TIMEOUT and error.reason == NO_ANSWER


def _tunnel_line(address: str, error: TunnelError | None) -> dict[str, object]:
    if error is None:
        return {"destination": address, "ok": True, "answer": "200"}
    return {"destination": address, "ok": False, "answer": error.message, "said": dict(error.said)}


def probe_proxy(choice: ProxyChoice, endpoints: list[Endpoint], probe: ProbeContext) -> Finding:
    assert choice.url is not None
    try:
        proxy = parse_proxy(choice.url)
    except TunnelError as exc:
        return Finding(
            "proxy.failed",
            exc.message,
            {"proxy": choice.display, "source": choice.source},
            remediation="Use an http:// proxy URL such as http://proxy.example.com:3128.",
            evidence=route_evidence(choice),
        )
    base: dict[str, object] = {
        "proxy": choice.display,
        "source": choice.source,
        "ignored_settings": list(choice.ignored),
    }
    try:
        sock, proxy_ip, connect_ms = connect_to_proxy(proxy, probe.timeout)
        sock.close()
    except TunnelError as exc:
        return _unreachable(choice, proxy.address, proxy.port, exc, base)
    base["proxy_ip"] = proxy_ip
    base["connect_ms"] = connect_ms
    opened = _open_all(choice, endpoints, probe)
    base["tunnels"] = [_tunnel_line(address, error) for address, error in opened.items()]
    return _tunnels_verdict(choice, opened, base, connect_ms)


def _unreachable(
    choice: ProxyChoice, address: str, port: int, exc: TunnelError, base: dict[str, object]
) -> Finding:
    """No TCP connection to the proxy itself."""
    finding = tunnel_finding(exc, choice.display, address)
    return Finding(finding.code, exc.message, {**base, "stage": exc.stage}, remediation=(
        f"Check the proxy address {choice.display} (set by {choice.source}) and that this host may reach "
        f"it on port {port}."
    ), evidence=finding.evidence)


def _proxy_failure(opened: dict[str, TunnelError | None]) -> tuple[str, TunnelError] | None:
    """The tunnel failure that belongs to the proxy itself (with its destination), if any."""
    for address, error in opened.items():
        if error is not None and _proxy_level(error):
            return address, error
    address, first = next(iter(opened.items()))
    if first is not None and all(_silent(error) for error in opened.values()):
        # Not one CONNECT got an answer: the proxy itself is stuck, not its way to one destination.
        return address, first
    return None


def _tunnels_verdict(
    choice: ProxyChoice, opened: dict[str, TunnelError | None], base: dict[str, object], connect_ms: int
) -> Finding:
    failure = _proxy_failure(opened)
    if failure is not None:
        first = tunnel_finding(failure[1], choice.display, failure[0])
        return Finding(first.code, first.summary, {**first.details, **base}, remediation=first.remediation,
                       evidence=replace(first.evidence, latency_ms=connect_ms), fact=opened)
    states = ", ".join(f"{address} {_tunnel_state(error)}" for address, error in opened.items())
    refused = [address for address, error in opened.items() if error is not None]
    note = "; each endpoint's tunnel is judged in its tcp result" if refused else ""
    return Finding("proxy.ok", f"{choice.display} (from {choice.source}) answers; tunnels: {states}{note}", base,
                   evidence=route_evidence(choice, latency_ms=connect_ms), fact=opened)


def _tunnel_state(error: TunnelError | None) -> str:
    return "open" if error is None else f"not open ({error.status or error.reason or error.stage})"


def _none_finding(ctx: RunContext, choices: list[tuple[Endpoint, ProxyChoice]]) -> Finding:
    ignored = sorted({name for _, choice in choices for name in choice.ignored})
    bypassed = {endpoint.address: choice.bypass for endpoint, choice in choices if choice.bypass}
    summary = "no proxy applies: endpoints are reached directly" + _direct_notes(ignored, bypassed)
    details: dict[str, object] = {
        "ignored_settings": ignored,
        "no_proxy_matches": bypassed,
        "endpoints": [endpoint.address for endpoint, _ in choices],
    }
    fix = ""
    if ignored:
        fix = "If this host must use a proxy for Dynatrace, set HTTPS_PROXY (or pass --proxy URL)."
    return Finding("proxy.none", summary, details, remediation=fix)


def _direct_notes(ignored: list[str], bypassed: dict[str, str]) -> str:
    """Why no proxy applies, for the summary: settings that do not apply, and NO_PROXY matches."""
    notes: list[str] = []
    if ignored:
        notes.append(f"{', '.join(ignored)} set but not used for https:// endpoints (that needs HTTPS_PROXY)")
    if bypassed:
        notes.append("sent direct by " + "; ".join(f"{address}: {why}" for address, why in bypassed.items()))
    return f" ({'; '.join(notes)})" if notes else ""


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = [endpoint for endpoint in ctx.settings.remote_endpoints if endpoint.scheme == "https"]
    if not endpoints:
        return [] if ctx.settings.remote_endpoints else config_url.no_endpoint_probes(ctx)
    choices = [(endpoint, route(ctx, endpoint)) for endpoint in endpoints]
    by_proxy: dict[str, tuple[ProxyChoice, list[Endpoint]]] = {}
    for endpoint, choice in choices:
        if choice.url is not None:
            by_proxy.setdefault(proxy_target(choice), (choice, []))[1].append(endpoint)
    if not by_proxy:
        return [Probe(NO_TARGET, constant(_none_finding(ctx, choices)))]

    def probe_for(choice: ProxyChoice, served: list[Endpoint]) -> Probe:
        return Probe(
            proxy_target(choice),
            lambda probe: probe_proxy(choice, served, probe),
            # TCP to the proxy (one timeout), then every tunnel at once (one timeout, and up to one more to
            # name a failure: the error page, or whether a silent https:// port speaks plain HTTP).
            budget=3.0,
        )

    return [probe_for(choice, served) for choice, served in by_proxy.values()]


CHECK = Check(id=ID, title="Proxy", codes=emits(CODES, config_url.NO_ENDPOINT_CODES), plan=plan)
