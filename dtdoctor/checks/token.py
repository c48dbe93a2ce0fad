"""``token``: does Dynatrace accept the API token, and does it carry the required scopes?

The token looks itself up: ``POST /api/v2/apiTokens/lookup`` with body
``{"token": "<token>"}``, authenticated with the same token; any scope
suffices (docs: "Access tokens API - POST token lookup",
https://docs.dynatrace.com/docs/dynatrace-api/environment-api/tokens-v2/api-tokens/post-token-lookup).
The answer (``ApiToken``) carries ``name``, ``enabled``, ``owner``,
``creationDate``, ``expirationDate``, ``lastUsedDate``, ``scopes`` ...

Where the lookup is not available (404/403/405: an old cluster, an
ActiveGate that does not forward it), the verdict on ``events.ingest`` is
inferred from a request that creates nothing: ``POST /api/v2/events/ingest``
with an invalid event type (docs: "Events API v2 - POST an event",
https://docs.dynatrace.com/docs/shortlink/api-events-v2-post-event). The
token is checked before the body: 401 means the token is refused, 403 that
it lacks the scope, 400 (the body rejected) that token and scope are fine.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any, Mapping

from dtdoctor.checks import api, config_token, config_url
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint, Settings
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status, utc_timestamp
from dtdoctor.net import http
from dtdoctor.net.connection import HeldConnection

ID = "token"
LOOKUP_PATH = "/api/v2/apiTokens/lookup"
INGEST_PATH = "/api/v2/events/ingest"
INGEST_SCOPE = "events.ingest"
# An event type no Dynatrace accepts: the request is refused as invalid, so it can never create an event.
PROBE_EVENT = {"eventType": "DTDOCTOR_SCOPE_PROBE_NOT_AN_EVENT"}

# Scope ids and the names Dynatrace shows for them in the token editor.
SCOPE_NAMES = {
    "events.ingest": "Ingest events",
    "events.read": "Read events",
    "metrics.ingest": "Ingest metrics",
    "logs.ingest": "Ingest logs",
    "openTelemetryTrace.ingest": "Ingest OpenTelemetry traces",
    "apiTokens.read": "Read API tokens",
    "DataExport": "Access problem and event feed, metrics, and topology",
}

_EDIT = "In Dynatrace: Access tokens > select the token > Edit"

CODES = codes(
    Code(
        "token.ok",
        Status.PASS,
        "Dynatrace accepts the token and it has every required scope.",
        when={
            Status.WARN: "when the token lookup was unavailable: events.ingest was inferred from an ingest request, "
            "and the other required scopes could not be verified",
        },
    ),
    Code(
        "token.unauthorized",
        Status.FAIL,
        "Dynatrace refuses the token (HTTP 401): it is unknown to this environment, mistyped, disabled, or "
        "expired; Dynatrace's answer does not say which.",
        "The token belongs to another environment, was deleted or rotated, was copied incompletely, was "
        "disabled, or passed its expiration date. A token that looks itself up cannot see its own state.",
        "In Dynatrace, Access tokens: find the token by the id in the result; enable it if it is disabled, "
        "otherwise generate a new token in this environment (scope Ingest events (events.ingest)) and "
        "configure it with DT_API_TOKEN or --token-file.",
    ),
    Code(
        "token.disabled",
        Status.FAIL,
        "The token exists but is disabled.",
        "Someone disabled it in Access tokens, or it was disabled automatically (for example after a leak).",
        f"{_EDIT} > enable it; or generate a new token if it was disabled because it leaked.",
    ),
    Code(
        "token.expired",
        Status.FAIL,
        "The token's expiration date has passed.",
        "It was created with an expiration date.",
        "Generate a new token in Access tokens > Generate new token (with the same scopes) and configure it.",
    ),
    Code(
        "token.expiring_soon",
        Status.WARN,
        "The token expires within --expiry-warn-days days.",
        "It was created with an expiration date that is near.",
        "Generate a replacement in Access tokens > Generate new token before it expires, and roll it out.",
    ),
    Code(
        "token.missing_scope",
        Status.FAIL,
        "The token lacks a scope dtdoctor was asked to require (by default Ingest events, events.ingest).",
        "It was generated for another purpose or with a template that lacks the scope.",
        f"{_EDIT} > add scope Ingest events (events.ingest) (and any other scope listed), then save.",
    ),
    Code(
        "token.unverified",
        Status.ERROR,
        "The token's validity is unknown: Dynatrace could not be asked (error), or it answered but what the "
        "answer means for this kind of token is not confirmed by any Dynatrace source (warning).",
        "The endpoint timed out, failed TLS, answered with a server error, rate-limited the request, or "
        "something other than Dynatrace answered; or a platform token was refused by the classic API, which "
        "may refuse every platform token.",
        # A refused platform token (the warning) brings its own advice: a classic access token.
        "Fix the api check's finding for this endpoint first, then run dtdoctor again.",
        when={
            Status.WARN: "when Dynatrace answered and only the meaning is unconfirmed (a platform token refused by "
            "the classic API) or not yet known (HTTP 429: asking again later will tell)",
        },
    ),
)


def parse_date(value: Any) -> dt.datetime | None:
    """An ISO 8601 date as Dynatrace writes it (``2024-05-01T10:00:00.000Z``), timezone-aware."""
    if not isinstance(value, str):
        return None
    match = re.match(
        r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", value.strip(), re.ASCII
    )
    if not match:
        return None
    day, clock, zone = match.groups()
    if clock.count(":") == 1:
        clock += ":00"
    if zone in (None, "Z"):
        zone = "+00:00"
    elif ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    try:
        return dt.datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:
        return None


def scope_label(scope: str) -> str:
    name = SCOPE_NAMES.get(scope)
    return f"{name} ({scope})" if name else scope


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def judge_lookup(settings: Settings, data: Mapping[str, Any], where: str) -> Finding:
    """The verdict on a 200 answer of the lookup."""
    token = settings.api_token
    listed = data.get("scopes")
    # Only a list is Dynatrace's shape; a number or object here would crash a plain iteration.
    scopes = [str(scope) for scope in listed if isinstance(scope, (str, int))] if isinstance(listed, list) else []
    created, expires, last_used = (
        parse_date(data.get(key)) for key in ("creationDate", "expirationDate", "lastUsedDate")
    )
    details: dict[str, object] = {
        "verdict": "lookup",
        "endpoint": where,
        "name": data.get("name"),
        "id": token.token_id if token else data.get("id"),
        "owner": data.get("owner"),
        "enabled": data.get("enabled"),
        "personal_access_token": data.get("personalAccessToken"),
        "created": data.get("creationDate"),
        "expires": data.get("expirationDate"),
        "last_used": data.get("lastUsedDate"),
        "scopes": scopes,
        "required_scopes": list(settings.scopes),
    }
    label = f"token {details['id']}" + (f" ({data.get('name')})" if data.get("name") else "")
    finding = _lookup_verdict(settings, data, details, label, (created, expires, last_used))
    if expires is None:
        return finding
    return replace(finding, evidence=finding.evidence.merged(Evidence(token_expires_at=utc_timestamp(expires))))


def _lookup_verdict(
    settings: Settings, data: Mapping[str, Any], details: dict[str, object], label: str,
    dates: tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None],
) -> Finding:
    scopes = details["scopes"]
    assert isinstance(scopes, list)
    expires = dates[1]
    if data.get("enabled") is False:
        return Finding("token.disabled", f"{label} is disabled", details)
    moment = now()
    if expires is not None and expires <= moment:
        return Finding("token.expired", f"{label} expired on {expires:%Y-%m-%d %H:%M} UTC", details)
    missing = [scope for scope in settings.scopes if scope not in scopes]
    if missing:
        return missing_scope_finding(label, missing, scopes, details)
    if expires is not None:
        soon = _expiring_soon(settings, label, details, expires, moment)
        if soon is not None:
            return soon
    return _valid_finding(settings, label, details, dates)


def _expiring_soon(
    settings: Settings, label: str, details: dict[str, object], expires: dt.datetime, moment: dt.datetime
) -> Finding | None:
    days_left = (expires - moment).total_seconds() / 86400
    details["days_left"] = round(days_left, 1)
    if days_left > settings.expiry_warn_days:
        return None
    return Finding(
        "token.expiring_soon",
        f"{label} expires in {days_left:.0f} day(s), on {expires:%Y-%m-%d}",
        details,
        remediation=(
            f"Generate a replacement before {expires:%Y-%m-%d}: Access tokens > Generate new token with "
            f"the scopes {', '.join(scope_label(s) for s in settings.scopes)}; then roll it out."
        ),
    )


def _valid_finding(
    settings: Settings, label: str, details: dict[str, object],
    dates: tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None],
) -> Finding:
    created, expires, last_used = dates
    expiry = f", expires {expires:%Y-%m-%d}" if expires else ", never expires"
    used = f", last used {last_used:%Y-%m-%d}" if last_used else ""
    made = f", created {created:%Y-%m-%d}" if created else ""
    return Finding(
        "token.ok",
        f"{label} is valid with scopes {', '.join(settings.scopes)}{made}{expiry}{used}",
        details,
    )


def missing_scope_finding(
    label: str, missing: list[str], present: list[str] | None, details: dict[str, object]
) -> Finding:
    """``present`` None: the token's scopes are unknown (inferred verdict)."""
    details["missing_scopes"] = missing
    evidence = Evidence(missing_scopes=tuple(missing))
    listed = ", ".join(scope_label(scope) for scope in missing)
    if present is None:
        has = "its other scopes are unknown without the token lookup"
    else:
        has = "it has: " + (", ".join(present) if present else "none")
    return Finding(
        "token.missing_scope",
        f"{label} lacks the scope(s) {', '.join(missing)}; {has}",
        details,
        remediation=f"{_EDIT} > add scope {listed}, then save (or generate a new token with these scopes).",
        evidence=evidence,
    )


def refused_finding(settings: Settings, error: Mapping[str, Any] | None, where: str, inferred: bool) -> Finding:
    """A 401: unknown token, or (by Dynatrace's message) a disabled or expired one."""
    token = settings.api_token
    message = http.error_message(error)
    details: dict[str, object] = {
        "verdict": "inferred" if inferred else "lookup",
        "endpoint": where,
        "id": token.token_id if token else None,
        "status": 401,
        "error": message,
    }
    lowered = message.lower()
    label = f"token {details['id']}"
    if "expired" in lowered:
        return Finding("token.expired", f"{label} is refused as expired: {message}", details)
    if "disabled" in lowered or "deactivated" in lowered:
        return Finding("token.disabled", f"{label} is refused as disabled: {message}", details)
    return Finding(
        "token.unauthorized",
        f"Dynatrace at {where} refuses {label} (HTTP 401): it is unknown, mistyped, disabled or expired, "
        "and Dynatrace does not say which" + (" (inferred from the ingest endpoint)" if inferred else ""),
        details,
    )


def unverified(where: str, why: str, details: dict[str, object]) -> Finding:
    return Finding("token.unverified", f"cannot verify the token at {where}: {why}", details)


def answer_problem(settings: Settings, response: http.HttpResponse, where: str) -> Finding | None:
    """The answers that say nothing about the token: redirects, foreign pages, 429, 5xx."""
    details = http.response_evidence(settings, response)
    details["endpoint"] = where
    if response.is_redirect:
        return unverified(where, f"the endpoint redirects (HTTP {response.status}); not followed", details)
    reason = api.not_dynatrace_reason(settings, response)
    if reason is not None:
        return unverified(where, reason, details)
    if response.status == 429:
        # Dynatrace answered, only not yet: a warning, with when to ask again.
        what = f"cannot verify the token at {where}: rate limited (HTTP 429)"
        return api.rate_limited_finding("token.unverified", what, details, response, "then run dtdoctor again",
                                        Status.WARN)
    if response.status >= 500:
        return unverified(where, f"server error HTTP {response.status}", details)
    return None


# The words of the inferred verdicts; ``classify_inferred`` supplies the evidence they quote.
INFERRED_SUMMARIES = {
    "missing_scope": "{label} (inferred)",
    "ok": "{label} is accepted and may ingest events (inferred)",
    "ok_partly": "{label} is accepted with events.ingest (inferred); {others} could not be verified without the "
    "token lookup",
    "not_asked": "{why}, and the token may not ingest events",
    "platform_refused": "Dynatrace refused the platform token at {where} (HTTP {status}{message}); whether the "
    "classic events API accepts platform tokens at all is unconfirmed, so this may not mean the token is bad",
    "unknown_answer": "{why}, and the ingest probe answered HTTP {status}",
}


def classify_inferred(status: int, has_error: bool, platform: bool, others: list[str], wants_ingest: bool) -> str:
    """The inferred verdict on the ingest probe's answer (see the module docstring)."""
    if not has_error:  # not Dynatrace's error format: says nothing about the token
        return "unknown_answer"
    rules = (
        ("platform_refused", platform and status in (401, 403)),
        ("refused", status == 401),
        ("not_asked", status == 403 and not wants_ingest),
        ("missing_scope", status == 403),
        ("ok_partly", status == 400 and bool(others)),
        ("ok", status == 400),
    )
    return next((verdict for verdict, applies in rules if applies), "unknown_answer")


def infer(probe: ProbeContext, endpoint: Endpoint, where: str, why: str) -> Finding:
    """Decide from an ingest request that cannot create anything (see the module docstring)."""
    settings = probe.run.settings
    url = endpoint.api_url(INGEST_PATH)
    try:
        response = http.fetch(probe.run, "POST", url, json_body=PROBE_EVENT, authenticate=True)
    except http.HttpFailure as failure:
        finding = api.failure_finding("token", failure, where, single_code="token.unverified")
        return api.with_exchange(probe.run, endpoint, finding, failure)
    return api.with_exchange(probe.run, endpoint, judge_inferred(settings, response, where, why), response)


def judge_inferred(settings: Settings, response: http.HttpResponse, where: str, why: str) -> Finding:
    """The verdict from the ingest probe's answer."""
    problem = answer_problem(settings, response, where)
    if problem is not None:
        return problem
    error = http.dynatrace_error(response)
    token = settings.api_token
    message = http.error_message(error)
    details: dict[str, object] = {
        "verdict": "inferred",
        "why_inferred": why,
        "endpoint": where,
        "probe": f"POST {INGEST_PATH} with an invalid event (creates nothing)",
        "status": response.status,
        "error": message,
        "required_scopes": list(settings.scopes),
    }
    others = [scope for scope in settings.scopes if scope != INGEST_SCOPE]
    platform = bool(token and token.is_platform)
    verdict = classify_inferred(response.status, error is not None, platform, others, INGEST_SCOPE in settings.scopes)
    words = {
        "label": f"token {token.token_id if token else ''}",
        "others": ", ".join(others),
        "where": where,
        "status": response.status,
        "message": f": {message}" if message else "",
        "why": why,
    }
    return inferred_finding(verdict, words, details, settings, error)


def inferred_finding(
    verdict: str, words: dict[str, object], details: dict[str, object], settings: Settings,
    error: Mapping[str, Any] | None,
) -> Finding:
    where = str(words["where"])
    summary = INFERRED_SUMMARIES.get(verdict, "").format(**words)
    if verdict == "refused":
        return refused_finding(settings, error, where, inferred=True)
    if verdict == "missing_scope":
        return missing_scope_finding(summary, [INGEST_SCOPE], None, details)
    if verdict == "ok":
        return Finding("token.ok", summary, details)
    if verdict == "ok_partly":
        others = [scope for scope in settings.scopes if scope != INGEST_SCOPE]
        details["unverified_scopes"] = others
        return Finding(
            "token.ok", summary, details, status=Status.WARN,
            remediation=f"Check the scope(s) {', '.join(scope_label(s) for s in others)} in Dynatrace: "
            "Access tokens > select the token.",
        )
    if verdict == "platform_refused":
        details["unconfirmed"] = "whether the classic Environment API accepts platform tokens (with Api-Token)"
        return Finding(
            "token.unverified", f"cannot verify the token: {summary}", details, status=Status.WARN,
            remediation="Use a classic access token for the events API: Access tokens > Generate new token with "
            "Ingest events (events.ingest); it looks like dt0c01.<24 characters>.<64 characters>.",
        )
    return unverified(where, summary, details)


def probe_token(endpoint: Endpoint, where: str, probe: ProbeContext) -> Finding:
    """The verdict, with the kind of token and the header it was sent with in every result."""
    finding = ask(endpoint, where, probe)
    token = probe.run.settings.api_token
    if token is None:
        return finding
    return replace(finding, details={**finding.details, "token_kind": token.kind.value, "authorization": token.scheme})


def ask(endpoint: Endpoint, where: str, probe: ProbeContext) -> Finding:
    settings = probe.run.settings
    token = settings.api_token
    skip = api.token_preflight(endpoint, settings)
    if skip is not None:
        return skip
    assert token is not None  # token_preflight reports a missing token
    url = endpoint.api_url(LOOKUP_PATH)
    if not http.may_send_token(settings, url):  # the body carries the token: same rule as the header
        return Finding("token.unverified", f"not asked: the token may not be sent to {where}", {"endpoint": where})
    if token.is_platform:
        # dynatrace-operator skips the scope lookup for platform tokens (cmd/troubleshoot/dynakube.go).
        return infer(probe, endpoint, where, "platform tokens skip the token lookup, as Dynatrace's operator does")
    try:
        response = http.fetch(probe.run, "POST", url, json_body={"token": token.value}, authenticate=True,
                              connection=api_connection(probe, endpoint))
    except http.HttpFailure as failure:
        finding = api.failure_finding("token", failure, where, single_code="token.unverified")
        return api.with_exchange(probe.run, endpoint, finding, failure)
    if lookup_unavailable(settings, response):
        return infer(probe, endpoint, where, f"the token lookup answered HTTP {response.status}")
    return api.with_exchange(probe.run, endpoint, judge_answer(settings, response, where), response)


def api_connection(probe: ProbeContext, endpoint: Endpoint) -> HeldConnection | None:
    """The connection the ``api`` request left open to ``endpoint``: the lookup, which waits for it, goes over it."""
    found = lookup_endpoint(probe.run.settings)
    connection = probe.fact(api.ID, found[1]) if found is not None and found[0] == endpoint else None
    return connection if isinstance(connection, HeldConnection) else None


def lookup_unavailable(settings: Settings, response: http.HttpResponse) -> bool:
    """Dynatrace answered that it has no lookup here (404/405, or 403 in its own error format)."""
    if response.status not in (403, 404, 405) or response.is_redirect:
        return False
    if api.not_dynatrace_reason(settings, response) is not None:
        return False
    return http.dynatrace_error(response) is not None or response.status != 403


def judge_answer(settings: Settings, response: http.HttpResponse, where: str) -> Finding:
    """The lookup's own answer: not Dynatrace's, 401 (by whom), 200 (the token's description), anything else."""
    problem = answer_problem(settings, response, where)
    if problem is not None:
        return problem
    error = http.dynatrace_error(response)
    if response.status == 401:
        if error is None:  # a proxy or web server in front asks for its own credentials
            details = http.response_evidence(settings, response)
            challenge = response.headers.get("www-authenticate", "")
            details["www_authenticate"] = challenge.split(" ")[0][:20] or None
            return unverified(where, "HTTP 401 without Dynatrace's error format: something else asks for credentials",
                              details)
        return refused_finding(settings, error, where, inferred=False)
    if response.status == 200:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and "scopes" in data:
            return judge_lookup(settings, data, where)
        details = http.response_evidence(settings, response)
        return unverified(where, "the lookup answered 200 without a token description (truncated JSON?)", details)
    details = http.response_evidence(settings, response)
    details["error"] = http.error_message(error)
    return unverified(where, f"the lookup answered HTTP {response.status}", details)


def lookup_endpoint(settings: Settings) -> tuple[Endpoint, str] | None:
    """The environment endpoint (else the first ActiveGate with /e/<env-id>) and its target."""
    found = api.targets(settings)
    return found[0] if found else None


def plan(ctx: RunContext) -> list[Probe]:
    settings = ctx.settings
    chosen = lookup_endpoint(settings)
    if chosen is None:
        return config_url.no_endpoint_probes(ctx)
    endpoint, target = chosen
    if settings.token is None:
        return [config_token.missing_token_probe(target)]
    requires = ((config_token.ID, "local"), *api.network_requires(ctx, endpoint), (api.ID, target))
    return [
        Probe(
            target,
            lambda probe: probe_token(endpoint, endpoint.base_url, probe),
            requires=requires,
            budget=2 * http.BUDGET,  # a lookup, and an inference request when the lookup is unavailable
        )
    ]


CHECK = Check(
    id=ID,
    title="API token validity and scopes",
    codes=emits(CODES, api.PREFLIGHT_CODES, config_token.MISSING_CODES, config_url.NO_ENDPOINT_CODES),
    plan=plan,
)
