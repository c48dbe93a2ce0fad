"""``activegate``: is each configured ActiveGate up and healthy?

An ActiveGate answers ``GET /rest/health`` with the text ``RUNNING`` when
it is healthy (some versions quote it: ``"RUNNING"``); Dynatrace's own
operator uses exactly this as the ActiveGate's readiness probe on port 9999
(dynatrace-operator, ActiveGate statefulset readiness probe). The health
endpoint needs no token, so none is sent.
"""

from __future__ import annotations

from dtdoctor.checks import api
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.net import http

ID = "activegate"
HEALTH_PATH = "/rest/health"
HEALTHY = "RUNNING"

CODES = codes(
    Code(
        "activegate.running",
        Status.PASS,
        "The ActiveGate reports itself healthy (RUNNING).",
        summary="ActiveGate {_address} is RUNNING (answered in {latency_ms} ms)",
    ),
    Code(
        "activegate.not_running",
        Status.FAIL,
        "The ActiveGate answered, but not with RUNNING: it is starting, stopping, unhealthy, or it is not "
        "an ActiveGate.",
        "The ActiveGate service is starting or failing, it lost its connection to Dynatrace, or the "
        "URL points to another service.",
        "On the ActiveGate host: `systemctl status dynatracegateway` and the logs in "
        "/var/log/dynatrace/gateway; in Dynatrace: Deployment status > ActiveGates shows whether it is connected. "
        "If another service answers on that port, fix the port in --activegate.",
        summary="ActiveGate {_address} is not RUNNING: it answered {_answer}",
    ),
    Code(
        "activegate.unreachable",
        Status.FAIL,
        "The ActiveGate's health endpoint could not be asked (timeout, TLS or connection failure).",
        "The ActiveGate is down, a firewall or proxy is in between, or its certificate is not trusted here.",
        "See the tcp and tls checks for this ActiveGate; check that the ActiveGate service runs "
        "(`systemctl status dynatracegateway`).",
    ),
)


def judge(endpoint: Endpoint, response: http.HttpResponse, settings_echo: bool) -> Finding:
    """RUNNING, answered whole with 200, is healthy; any other answer is not (and says what it was)."""
    details: dict[str, object] = {"url": f"{endpoint.scheme}://{endpoint.address}{HEALTH_PATH}"}
    details.update(response_details(response, settings_echo))
    details["_address"] = endpoint.address
    answer = response.text.strip().strip('"').strip()
    if response.status == 200 and answer == HEALTHY and not response.truncated:
        return Finding("activegate.running", details=details)
    return Finding("activegate.not_running", details={**details, "_answer": _answer(response, settings_echo)})


def _answer(response: http.HttpResponse, settings_echo: bool) -> str:
    if response.is_redirect:
        shown = response.hops[-1].location if response.hops else response.headers.get("location", "")
        return f"a redirect (HTTP {response.status}) to {shown}"
    if settings_echo:
        return f"HTTP {response.status} with the token echoed back"
    return f"HTTP {response.status}: {response.snippet(60)!r}"


def response_details(response: http.HttpResponse, echoed: bool) -> dict[str, object]:
    details: dict[str, object] = {
        "status": response.status,
        "http_version": response.http_version,
        "latency_ms": response.elapsed_ms,
        "body_bytes": len(response.body),
    }
    if response.hops:
        details["redirects"] = [hop.to_json() for hop in response.hops]
    if echoed:
        details["echoes_token"] = True
    else:
        details["body_start"] = response.snippet(80)
    return details


def probe_activegate(endpoint: Endpoint, probe: ProbeContext) -> Finding:
    skip = api.plaintext_finding(endpoint)
    if skip is not None:
        return skip
    url = f"{endpoint.scheme}://{endpoint.address}{HEALTH_PATH}"
    try:
        response = http.fetch(probe.run, "GET", url, authenticate=False, accept="text/plain, */*",
                              connection=api.tls_connection(probe, endpoint))
    except http.HttpFailure as failure:
        finding = api.failure_finding("activegate", failure, f"ActiveGate {endpoint.address}", "activegate.unreachable")
        return api.with_exchange(probe.run, endpoint, finding, failure)
    finding = judge(endpoint, response, http.echoes_token(probe.run.settings, response))
    return api.with_exchange(probe.run, endpoint, finding, response)


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = ctx.settings.activegate_endpoints
    seen: set[str] = set()
    probes: list[Probe] = []
    for endpoint in endpoints:
        if endpoint.address in seen:
            continue
        seen.add(endpoint.address)
        probes.append(
            Probe(
                endpoint.address,
                (lambda chosen: lambda probe: probe_activegate(chosen, probe))(endpoint),
                requires=api.network_requires(ctx, endpoint),
                budget=http.BUDGET,
            )
        )
    return probes


CHECK = Check(id=ID, title="ActiveGate health", codes=emits(CODES, api.PLAINTEXT_CODES), plan=plan)
