"""``event``: opt-in, really send one test event through each ingest path.

Only with ``--send-test-event``; without it this check plans nothing and no
request is ever made. With it, one ``CUSTOM_INFO`` event titled
"dtdoctor connectivity test" goes to:

- ``/api/v2/events/ingest`` on the environment URL and on each ActiveGate
  with an ``/e/<env-id>`` path, with the token (docs: "Events API v2 - POST
  an event", https://docs.dynatrace.com/docs/shortlink/api-events-v2-post-event:
  201 with ``{"reportCount": N, "eventIngestResults": [{"correlationId": ...,
  "status": "OK"}]}``);
- OneAgent's local endpoint ``http://127.0.0.1:<port>/v2/events/ingest``,
  without a token and without ``Content-Encoding`` (docs: "Extend event
  observability", https://docs.dynatrace.com/docs/ingest-from/extend-dynatrace-classic/extend-events).
"""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any, Callable

from dtdoctor import __version__
from dtdoctor.checks import api, config_token
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint, Settings
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
from dtdoctor.host.local_endpoint import EEC_HOST, EEC_INGEST_PATH, eec_port, eec_target
from dtdoctor.net import http, ratelimit

ID = "event"
INGEST_PATH = "/api/v2/events/ingest"
TITLE = "dtdoctor connectivity test"

CODES = codes(
    Code("event.sent", Status.PASS, "The test event was accepted by this ingest path."),
    Code(
        "event.rejected",
        Status.FAIL,
        "The ingest path answered, but refused the test event.",
        "The token lacks Ingest events (events.ingest) or is refused, the environment does not accept "
        "custom events, or OneAgent's local ingest is disabled.",
        "Read Dynatrace's message in the summary; for 401/403: Access tokens > edit token > add scope "
        "Ingest events (events.ingest).",
    ),
    Code(
        "event.failed",
        Status.FAIL,
        "The test event could not be delivered: no answer, or not an answer from Dynatrace.",
        "The endpoint is unreachable (refused, timeout, TLS), or a proxy or portal answered instead.",
        "Fix the tcp, tls and api findings for this endpoint; for OneAgent's local endpoint, enable "
        "Settings > Preferences > Extension Execution Controller > Enable local HTTP Metric, Log and Event "
        "Ingest API.",
    ),
)

_EEC_ENABLE = (
    "Enable OneAgent's local ingest: in Dynatrace, Settings > Preferences > Extension Execution Controller: "
    "turn on 'Enable Extension Execution Controller' and 'Enable local HTTP Metric, Log and Event Ingest API' "
    "(environment, host group or host level); check the port with "
    "`oneagentctl --get-extensions-ingest-port`."
)


def event_payload(path: str) -> dict[str, Any]:
    return {
        "eventType": "CUSTOM_INFO",
        "title": TITLE,
        "properties": {
            "dtdoctor.host": socket.gethostname(),
            "dtdoctor.version": __version__,
            "dtdoctor.path": path,
            "description": "Sent on request (--send-test-event) to prove this ingest path works.",
        },
    }


def correlation_ids(data: Any) -> list[str]:
    results = data.get("eventIngestResults") if isinstance(data, dict) else None
    found: list[str] = []
    for item in results if isinstance(results, list) else []:
        if isinstance(item, dict):
            ident = item.get("correlationId") or item.get("eventId")
            if ident:
                found.append(str(ident))
    return found


def _json_object(response: http.HttpResponse) -> dict[str, Any]:
    try:
        data = response.json() if response.body.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def ingest_results(response: http.HttpResponse) -> dict[str, object]:
    """What a 2xx answer says per event: correlation ids, the report count, statuses other than OK."""
    data = _json_object(response)
    results = data.get("eventIngestResults")
    items = results if isinstance(results, list) else []  # another shape says nothing per event
    statuses = [str(item["status"]) for item in items if isinstance(item, dict) and item.get("status") is not None]
    # docs: each ingest result's status is "OK" on success; anything else is a per-event refusal.
    return {
        "correlation_ids": correlation_ids(data),
        "report_count": data.get("reportCount"),
        "refused_statuses": [status for status in statuses if status != "OK"],
    }


def classify(settings: Settings, response: http.HttpResponse, local: bool) -> tuple[str, dict[str, object]]:
    """The verdict on the answer to the test event: a key of ``SUMMARIES`` and its evidence."""
    if response.is_redirect:
        return "redirect", {}
    reason = api.not_dynatrace_reason(settings, response)
    if reason is not None:
        return "not_dynatrace", {"reason": reason}
    if 200 <= response.status < 300:
        found = ingest_results(response)
        return ("refused_per_event" if found["refused_statuses"] else "sent"), found
    error = http.dynatrace_error(response)
    found = {"error": http.error_message(error) if error else response.snippet(100)}
    if response.status == 429:
        return "rate_limited", {**found, **ratelimit.read(response.headers).to_json()}
    if error is None and not local and response.status >= 400:
        return "foreign_error", found
    return "rejected", found


# The words of each verdict: (code, summary template).
SUMMARIES = {
    "not_dynatrace": ("event.failed", "{where}: {reason}"),
    "sent": ("event.sent", "test event accepted by {where} (HTTP {status}{ident}{header})"),
    "refused_per_event": ("event.rejected", "{where}: the event was not ingested (status {refused})"),
    "foreign_error": ("event.failed", "{where}: HTTP {status} without Dynatrace's error format"),
    "rate_limited": ("event.rejected", "{where} refused the event: HTTP 429{message}; {advice}"),
    "rejected": ("event.rejected", "{where} refused the event: HTTP {status}{message}{header}"),
}

_TOKEN_REMEDIATION = (
    "Access tokens > edit token > add scope Ingest events (events.ingest); or configure a token of "
    "this environment (DT_API_TOKEN or --token-file)."
)


def _words(where: str, response: http.HttpResponse, found: dict[str, object], header: object) -> dict[str, object]:
    """What the summary templates quote, from the verdict's evidence."""
    ids, refused = found.get("correlation_ids"), found.get("refused_statuses")
    return {
        **found,
        "where": where,
        "status": response.status,
        "ident": f", correlation id {ids[0]}" if isinstance(ids, list) and ids else "",
        "header": f", sent with {header}" if header else "",
        "refused": ", ".join(str(item) for item in refused) if isinstance(refused, list) else "",
        "message": f": {found['error']}" if found.get("error") else "",
        "advice": str(found.get("advice", "")),
    }


def judge(probe: ProbeContext, where: str, response: http.HttpResponse, local: bool) -> Finding:
    settings = probe.run.settings
    details = http.response_evidence(settings, response)
    details["endpoint"] = where
    token = settings.api_token
    if response.token_sent and token is not None:
        details["authorization"] = token.scheme
        details["token_kind"] = token.kind.value
    verdict, found = classify(settings, response, local)
    if verdict == "redirect":
        finding = api.redirect_finding("event", response, where)
        return Finding("event.failed", finding.summary if finding else f"{where}: redirect", details)
    details.update({key: value for key, value in found.items() if key != "refused_statuses"})
    code, template = SUMMARIES[verdict]
    words = _words(where, response, found, details.get("authorization"))
    return Finding(code, template.format(**words), details, remediation=remediation(verdict, response, local, found))


def remediation(verdict: str, response: http.HttpResponse, local: bool, found: dict[str, object]) -> str | None:
    if verdict == "rate_limited":
        return f"{found.get('advice')}, then send again."
    if verdict != "rejected":
        return None
    if local:
        return _EEC_ENABLE
    return _TOKEN_REMEDIATION if response.status in (401, 403) else None


def send_remote(endpoint: Endpoint, probe: ProbeContext) -> Finding:
    skip = api.token_preflight(endpoint, probe.run.settings)
    if skip is not None:
        return skip
    url = endpoint.api_url(INGEST_PATH)
    path = "environment" if endpoint.role == "environment" else "activegate"
    try:
        response = http.fetch(probe.run, "POST", url, json_body=event_payload(path), authenticate=True)
    except http.HttpFailure as failure:
        return api.with_exchange(probe.run, endpoint, api.failure_finding("event", failure, endpoint.base_url,
                                                                          "event.failed"), failure)
    return api.with_exchange(probe.run, endpoint, judge(probe, endpoint.base_url, response, local=False), response)


def send_local(probe: ProbeContext) -> Finding:
    port = eec_port(probe.run)
    url = f"http://{EEC_HOST}:{port.port}{EEC_INGEST_PATH}"
    try:
        # Never authenticated: the local endpoint takes no token, and is not a configured remote host.
        response = http.fetch(probe.run, "POST", url, json_body=event_payload("oneagent"), authenticate=False)
    except http.HttpFailure as failure:
        finding = api.failure_finding("event", failure, f"OneAgent's local endpoint {url}", "event.failed")
        details = dict(finding.details)
        details["port"] = port.to_json()
        remediation = _EEC_ENABLE if failure.kind == http.REFUSED else None
        summary = finding.summary
        if failure.kind == http.REFUSED:
            summary = f"nothing listens on {EEC_HOST}:{port.port} (OneAgent's local ingest endpoint is not enabled?)"
        return Finding("event.failed", summary, details, remediation=remediation,
                       evidence=Evidence(route="direct", error=failure.message))
    finding = judge(probe, url, response, local=True)
    # Loopback, never through a proxy (http.fetch bypasses proxies for 127.0.0.1).
    return replace(finding, evidence=Evidence(latency_ms=response.elapsed_ms, http_status=response.status,
                                              route="direct"))


def plan(ctx: RunContext) -> list[Probe]:
    settings = ctx.settings
    if not settings.send_test_event:
        return []  # opt-in only: nothing is planned, so nothing is ever sent
    probes: list[Probe] = []
    for endpoint, target in api.targets(settings):
        if settings.token is None:
            probes.append(config_token.missing_token_probe(target))
            continue
        run: Callable[[ProbeContext], Finding] = (lambda chosen: lambda probe: send_remote(chosen, probe))(endpoint)
        requires = ((config_token.ID, "local"), *api.network_requires(ctx, endpoint), (api.ID, target))
        probes.append(Probe(target, run, requires=requires, budget=http.BUDGET))
    target = eec_target(ctx)
    # A configured endpoint on 127.0.0.1:<eec-port> is that very listener, already posted to above.
    if target not in {probe.target for probe in probes}:
        probes.append(Probe(target, send_local, requires=(("eec", target),), budget=http.BUDGET))
    return probes


CHECK = Check(
    id=ID, title="Test event", codes=emits(CODES, api.PREFLIGHT_CODES, config_token.MISSING_CODES), plan=plan,
    plan_waits=True,  # the local endpoint's target names its port, as eec's does
)
