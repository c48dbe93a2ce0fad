"""``api``: does a Dynatrace API really answer at each environment endpoint?

Port 443 being open proves little: a captive portal, a TLS-inspecting
proxy's error page or a load balancer's login page answer there too. This
check asks a cheap question only Dynatrace answers in Dynatrace's way:
``GET /api/v1/time`` (docs: "Cluster information API - GET cluster time",
https://docs.dynatrace.com/managed/dynatrace-api/environment-api/cluster-information:
the cluster time in UTC milliseconds as ``text/plain``). It is sent with the
token when one is configured; a 401/403 in Dynatrace's JSON error envelope
(``{"error": {"code": 401, "message": ...}}``) also proves Dynatrace
answered, and the ``token`` check judges the token.

Probed endpoints: the environment URL and every ActiveGate URL that
carries an ``/e/<env-id>`` path (those serve the environment API).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Union

from dtdoctor.checks import config_token, config_url
from dtdoctor.checks import proxy as proxy_check
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext, unique_target
from dtdoctor.config import Endpoint, EndpointKind, Settings, format_address
from dtdoctor.core.codes import Code, codes, emits, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.net import http, proxy_cause, proxy_page, ratelimit
from dtdoctor.net.connection import HeldConnection
from dtdoctor.net.proxy import route
from dtdoctor.net.untrusted import ascii_int

ID = "api"
TIME_PATH = "/api/v1/time"
# Epoch milliseconds have 13 digits until the year 2286; anything much longer is not a timestamp.
_MAX_TIME_DIGITS = 20

CODES = codes(
    Code("api.ok", Status.PASS, "A Dynatrace API answers at the endpoint."),
    Code(
        "api.http_error",
        Status.FAIL,
        "The endpoint answered with an HTTP error instead of the API's answer.",
        "A server error (5xx) in Dynatrace or an ActiveGate, an ActiveGate that is not connected to its "
        "environment, or a status dtdoctor does not expect.",
        "Retry later; if it persists, check the ActiveGate's health and logs, or Dynatrace's status page, "
        "and open a support ticket with the report (--bundle).",
    ),
    Code(
        "api.origin_tls_rejected_by_proxy",
        Status.FAIL,
        "A TLS-inspecting proxy answered the API request itself: it could not make a verified TLS connection "
        "to the real server, and said why.",
        "The proxy (squid ssl-bump, a next-generation firewall) checks the origin's certificate on its own "
        "connection: the origin's certificate is expired, self-signed or for another name, or the proxy "
        "does not trust the origin's CA. This host only sees the proxy's certificate. The summary says which, "
        "in words, from the TLS code on the proxy's error page (squid: 'TLS code: X509_V_ERR_...'), or that the "
        "proxy could not verify the certificate and named no reason (squid's answer when it cannot find the "
        "issuer: a private CA it does not trust, a missing intermediate), or that the TLS handshake itself "
        "failed. For a Dynatrace SaaS host, whose real certificates are "
        "valid and public, a self-signed, wrong-name or expired one means the proxy's own connection ends "
        "somewhere else.",
        "Ask the team that runs the inspecting proxy to check its connection to {_host} (the certificate "
        "problem it names), or to exempt the Dynatrace hosts from inspection; if the origin's certificate "
        "really is bad, whoever runs {_host} must fix it.{_upstream}",
        summary="{_where}: the inspecting proxy {_proxy} answered HTTP {status} itself ({_said}): "
        "{_verdict}{_tls_code}",
    ),
    Code(
        "api.rate_limited",
        Status.WARN,
        "Dynatrace answered 429 Too Many Requests: the API's rate limit for this environment is used up.",
        "Other integrations use the same environment's API budget heavily.",
        "Wait for the time Retry-After names and run again; reduce the request rate of other integrations.",
    ),
    Code(
        "api.not_dynatrace",
        Status.FAIL,
        "Something answered, but it is not a Dynatrace API: a captive portal, a proxy's or firewall's "
        "page, a login page or another web server.",
        "A TLS-inspecting proxy or captive portal intercepts the traffic, the URL points to the wrong "
        "host or port, or a reverse proxy in front of the ActiveGate rewrites the answers.",
        "Open the URL from this host (curl -sv <url>/api/v1/time) and look at what answers; ask the network "
        "team to let this host reach Dynatrace directly or through the documented proxy.",
    ),
    Code(
        "api.timeout",
        Status.FAIL,
        "The endpoint accepted the connection but did not answer (or stalled mid-answer) within the timeout.",
        "An overloaded ActiveGate, a proxy that holds the request, or a network path that drops large packets.",
        "Run again with a larger --timeout; check the ActiveGate's load and the proxy in between.",
    ),
    Code(
        "api.redirect",
        Status.FAIL,
        "The endpoint redirects to another host, port or scheme; dtdoctor did not follow it and the token "
        "was not sent there.",
        "A captive portal or single sign-on page, an old URL that moved, http:// redirected to https://, or a "
        "reverse proxy that sends HTTPS requests to plain http:// (it believes TLS ends somewhere else).",
        "Use the final URL of the environment directly (see the redirect's target in the details) if it is "
        "really Dynatrace; otherwise the redirect comes from a proxy or portal in between. A redirect to plain "
        "http:// is never the URL to use: ask whoever runs the server or its reverse proxy to stop it.",
    ),
    Code(
        "api.tls_error",
        Status.FAIL,
        "The TLS connection to the endpoint failed, so the API could not be asked.",
        "An untrusted or expired certificate, a TLS-inspecting proxy, a hostname mismatch.",
        "See the tls check's result for this endpoint (dtdoctor check --only tls); trust a private CA "
        "with --ca-bundle.",
    ),
    Code(
        "api.connection_failed",
        Status.FAIL,
        "The connection to the endpoint failed before an answer arrived.",
        "The connection was refused or reset, the proxy failed, or the peer broke the HTTP protocol.",
        "See the tcp and proxy checks for this endpoint; check the proxy settings (--proxy, HTTPS_PROXY, NO_PROXY).",
    ),
)


def api_endpoints(settings: Settings) -> list[Endpoint]:
    """The endpoints that serve the environment API: the URL, and ActiveGates with /e/<env-id>."""
    found: list[Endpoint] = []
    seen: set[str] = set()
    candidates = ([settings.environment] if settings.environment else []) + [
        endpoint for endpoint in settings.activegate_endpoints if endpoint.environment_id
    ]
    for endpoint in candidates:
        if endpoint.base_url.lower() not in seen:
            seen.add(endpoint.base_url.lower())
            found.append(endpoint)
    return found


def targets(settings: Settings) -> list[tuple[Endpoint, str]]:
    """Each API endpoint with its result target: the host, or host:port where hosts repeat."""
    found: list[tuple[Endpoint, str]] = []
    used: set[str] = set()
    for endpoint in api_endpoints(settings):
        found.append((endpoint, unique_target(endpoint.host, endpoint.address, used)))
    return found


def network_requires(ctx: RunContext, endpoint: Endpoint) -> tuple[tuple[str, str], ...]:
    """The results a request to ``endpoint`` needs: the route there (the proxy when one
    applies, else TCP), and TLS for https. Absent checks are ignored by the runner."""
    requires: tuple[tuple[str, str], ...] = proxy_check.route_requirements(ctx, endpoint)
    if endpoint.scheme == "https":
        requires += (("tls", endpoint.address),)
    return requires

# What ``plaintext_finding`` and ``token_preflight`` report, for every check that uses them.
PLAINTEXT_CODES = subset(config_url.CODES, "url.plaintext")
PREFLIGHT_CODES = emits(PLAINTEXT_CODES, subset(config_token.CODES, "token.malformed"))


def token_preflight(endpoint: Endpoint, settings: Settings) -> Finding | None:
    """Why a request that carries the token is not made at all, if it is not."""
    if settings.api_token is None:  # malformed, and config.token not selected (else the runner skipped this)
        reason = settings.token.error if settings.token else "no token"
        return Finding("token.malformed", f"skipped: the token is malformed ({reason})", status=Status.SKIP)
    return plaintext_finding(endpoint)


def plaintext_finding(endpoint: Endpoint) -> Finding | None:
    """The skip for an http:// endpoint on another host: the token must never travel there."""
    if endpoint.plaintext and not endpoint.is_loopback:
        return Finding(
            "url.plaintext",
            f"skipped: {endpoint.base_url} uses http:// to another host; dtdoctor sends nothing there",
            {"url": endpoint.base_url},
            status=Status.SKIP,
        )
    return None


def with_exchange(
    ctx: RunContext, endpoint: Endpoint, finding: Finding, answer: Union[http.HttpResponse, http.HttpFailure]
) -> Finding:
    """``finding`` with the typed evidence of the request that decided it: the route, HTTP status, latency."""
    if isinstance(answer, http.HttpResponse):
        facts: dict[str, object] = {"http_status": answer.status, "latency_ms": answer.elapsed_ms}
    else:
        facts = {"error": answer.message}
    typed = proxy_check.route_evidence(route(ctx, endpoint), **facts)
    return replace(finding, evidence=finding.evidence.merged(typed))


def failure_finding(
    prefix: str, failure: http.HttpFailure, endpoint_text: str, single_code: str | None = None
) -> Finding:
    """A transport failure as ``<prefix>.timeout|tls_error|connection_failed``, or as ``single_code``."""
    details = http.failure_evidence(failure)
    if single_code is not None:
        return Finding(single_code, f"{endpoint_text}: {failure.message}", details)
    if failure.kind in (http.TIMEOUT, http.STALLED):
        return Finding(f"{prefix}.timeout", f"{endpoint_text}: {failure.message}", details)
    if failure.kind == http.TLS:
        return Finding(f"{prefix}.tls_error", f"{endpoint_text}: {failure.message}", details)
    return Finding(f"{prefix}.connection_failed", f"{endpoint_text}: {failure.message}", details)


def not_dynatrace_reason(settings: Settings, response: http.HttpResponse) -> str | None:
    """Why an answer cannot be Dynatrace's, or None when it might be."""
    if http.echoes_token(settings, response):
        return "the answer contains the token that was sent: an echo or debugging service, not Dynatrace"
    if response.truncated:
        return f"the answer is larger than {http.MAX_BODY // 1024} KiB (stopped reading there)"
    if http.looks_like_html(response):
        return f"an HTML page answered (HTTP {response.status}): a captive portal, login or proxy page"
    return None


def redirect_finding(prefix: str, response: http.HttpResponse, endpoint_text: str) -> Finding | None:
    if not response.is_redirect:
        return None
    details = {"status": response.status, "redirects": [hop.to_json() for hop in response.hops]}
    where, why, remediation = _redirect_words(response.hops[-1], endpoint_text) if response.hops else ("", "", None)
    return Finding(
        f"{prefix}.redirect",
        f"{endpoint_text} redirects{where} (HTTP {response.status}){why}; not followed: nothing was sent there",
        details,
        remediation=remediation,
    )


def _redirect_words(last: http.Hop, endpoint_text: str) -> tuple[str, str, str | None]:
    """Where the redirect points, why it was not followed, and what to do about it."""
    target = http.origin_or_none(last.location)
    why = f" ({last.reason})" if last.reason else ""
    if target is None:
        return f" to {last.location}", why, None
    scheme, host, port = target
    if scheme == "http" and endpoint_text.startswith("https://"):
        # An https:// URL sent to plain HTTP is never a URL to use instead: the token would travel unencrypted.
        return f" to plain HTTP ({last.location})", "", _PLAIN_HTTP_FIX.format(host=host)
    return f" to {last.location}", why, _ELSEWHERE_FIX.format(origin=f"{scheme}://{format_address(host, port)}")
_ELSEWHERE_FIX = (
    "If {origin} is really your Dynatrace environment, use that URL directly (--url / --activegate); otherwise "
    "a proxy or portal between this host and Dynatrace redirects the request: ask the network team to let this "
    "host reach Dynatrace directly."
)
_PLAIN_HTTP_FIX = (
    "Keep the https:// URL: dtdoctor never sends the token over plain HTTP, and neither should any client. "
    "A server or reverse proxy that answers HTTPS with a redirect to http:// usually believes TLS ends "
    "somewhere else (a load balancer that does not pass X-Forwarded-Proto, a rewrite rule): ask whoever runs "
    "{host} (or the reverse proxy or load balancer in front of it) to stop redirecting HTTPS requests to http://."
)


def judge(settings: Settings, endpoint: Endpoint, response: http.HttpResponse) -> Finding:
    where = endpoint.base_url
    details = http.response_evidence(settings, response)
    details["url"] = endpoint.api_url(TIME_PATH)
    details["token_sent"] = response.token_sent
    redirect = redirect_finding("api", response, where)
    if redirect is not None:
        return redirect
    status = response.status
    reason = not_dynatrace_reason(settings, response)
    if reason is not None and not (status >= 500 and http.looks_like_html(response)):
        return Finding("api.not_dynatrace", f"{where}: {reason}", details)
    error = http.dynatrace_error(response)
    rejected = origin_tls_rejected(endpoint, response, details)
    if rejected is not None:
        return rejected
    if status >= 500:
        if error:
            message = http.error_message(error)
        elif http.looks_like_html(response):
            message = "an HTML error page, likely from a proxy or load balancer in front of Dynatrace"
        else:
            message = response.snippet(80)
        summary = f"{where}: HTTP {status} server error" + (f": {message}" if message else "")
        return Finding("api.http_error", summary, details)
    if status == 200:
        server_time_ms = ascii_int(response.text.strip(), _MAX_TIME_DIGITS)
        if server_time_ms is not None:
            details["server_time_ms"] = server_time_ms
            return Finding(
                "api.ok",
                f"Dynatrace API answers at {where}: HTTP {status} in {response.elapsed_ms} ms "
                f"({response.http_version})",
                details,
            )
        return Finding(
            "api.not_dynatrace",
            f"{where}{TIME_PATH} answered 200 but not with a timestamp ({response.content_type or 'no content type'})",
            details,
        )
    if status == 429:
        return rate_limited_finding(
            "api.rate_limited", f"{where}: HTTP 429 Too Many Requests", details, response,
            "reduce the request rate of other integrations on this environment",
        )
    if error is not None and status in (401, 403):
        # Dynatrace itself refused the token: the API is there. The token check says why.
        details["error"] = http.error_message(error)
        refused = http.error_message(error) or "token refused"
        return Finding(
            "api.ok",
            f"Dynatrace API answers at {where} in {response.elapsed_ms} ms "
            f"(HTTP {status}: {refused}; see the token check)",
            details,
        )
    if error is None:
        return Finding(
            "api.not_dynatrace",
            f"{where}: HTTP {status} without Dynatrace's error format: another server answers",
            details,
        )
    details["error"] = http.error_message(error)
    return Finding("api.http_error", f"{where}: unexpected HTTP {status}: {http.error_message(error)}", details)


# Why the inspecting proxy rejected the real server's certificate (net.proxy_page's reasons), in words.
_REJECTED = "it rejected the certificate of the real server"
_ORIGIN_TLS_VERDICT = {
    proxy_page.EXPIRED: f"{_REJECTED} because that certificate has expired",
    proxy_page.NOT_YET_VALID: f"{_REJECTED} because that certificate is not valid yet",
    proxy_page.SELF_SIGNED: f"{_REJECTED} because that certificate is self-signed",
    proxy_page.UNTRUSTED_ROOT: f"{_REJECTED} because that certificate's chain ends in a self-signed root the proxy "
    "does not trust",
    proxy_page.UNKNOWN_ISSUER: f"{_REJECTED} because the proxy does not know or trust that certificate's issuer",
    proxy_page.NAME_MISMATCH: f"{_REJECTED} because that certificate is issued for another name, not {{host}}",
    proxy_page.REVOKED: f"{_REJECTED} because that certificate is revoked",
    proxy_page.UNVERIFIED: "it could not verify the certificate of the real server and names no reason, as squid "
    "does when it cannot find the certificate's issuer (a private CA it does not trust, or an intermediate the "
    "server does not send)",
    proxy_page.HANDSHAKE: "it could not complete a TLS handshake with the real server (an OpenSSL error, not a "
    "certificate error)",
}
_ISSUER_ADVICE = (
    " If {host} uses a private CA, the proxy must trust that CA too (squid: tls_outgoing_options cafile=), or "
    "{host} must send its intermediate certificates."
)
# Dynatrace's SaaS servers present certificates from public CAs, valid and for their own names: when the proxy
# sees anything else for a SaaS host, its own connection ends somewhere else.
_NOT_DYNATRACE = (
    " Dynatrace's SaaS servers present valid certificates from public CAs for their own names, so the proxy's "
    "own connection to {host} does not reach Dynatrace: ask where it goes (the proxy's DNS answer for {host}, "
    "a further proxy or filter upstream){clock}."
)
_NOT_DYNATRACE_REASONS = {proxy_page.SELF_SIGNED: "", proxy_page.NAME_MISMATCH: "",
                          proxy_page.EXPIRED: ", or the proxy's clock is wrong"}


def origin_tls_rejected(endpoint: Endpoint, response: http.HttpResponse, details: dict[str, object]) -> Finding | None:
    """``api.origin_tls_rejected_by_proxy`` when an inspecting proxy said it rejected the origin's TLS."""
    cause = proxy_cause.classify(response.status, response.headers)
    if cause.kind != proxy_cause.ORIGIN_TLS or not cause.evidence:
        return None
    said = proxy_page.read(response.text[: http.MAX_BODY])
    via = response.headers.get("via", "")[:120]
    details.update(proxy_said=cause.evidence, origin_tls_error=said.error, origin_tls_detail=said.detail,
                   origin_tls_reason=said.reason, proxy_via=via or None)
    quoted = ": ".join(part for part in (said.error, said.detail) if part)
    wording = {
        "_where": endpoint.base_url,
        "_proxy": f"({via})" if via else "in between",
        "_said": cause.evidence,
        "_host": endpoint.host,
        "_verdict": _ORIGIN_TLS_VERDICT.get(said.reason, _REJECTED).format(host=endpoint.host),
        "_tls_code": f" ({quoted})" if quoted else "",
        "_upstream": _upstream_advice(endpoint, said.reason),
    }
    return Finding("api.origin_tls_rejected_by_proxy", details={**details, **wording})


def _upstream_advice(endpoint: Endpoint, reason: str) -> str:
    """What the reason adds to the advice: where a SaaS host's connection ends, or the proxy's trust."""
    clock = _NOT_DYNATRACE_REASONS.get(reason)
    if endpoint.kind is EndpointKind.SAAS and clock is not None:
        return _NOT_DYNATRACE.format(host=endpoint.host, clock=clock)
    if reason in (proxy_page.UNVERIFIED, proxy_page.UNKNOWN_ISSUER, proxy_page.UNTRUSTED_ROOT):
        return _ISSUER_ADVICE.format(host=endpoint.host)
    return ""


def rate_limited_finding(
    code: str, what: str, details: dict[str, object], response: http.HttpResponse, then: str,
    status: Status | None = None,
) -> Finding:
    """A 429 that says when to retry: Retry-After, else X-RateLimit-Reset against the server's Date."""
    limit = ratelimit.read(response.headers)
    details.update(limit.to_json())
    advice = limit.advice
    return Finding(code, f"{what}; {advice}", details, status, f"{advice[0].upper()}{advice[1:]}; {then}.")


def tls_connection(probe: ProbeContext, endpoint: Endpoint) -> HeldConnection | None:
    """The connection the ``tls`` check verified for ``endpoint``, which the first request there may take over."""
    found = probe.fact("tls", endpoint.address)
    connection = getattr(found, "connection", None)
    return connection if isinstance(connection, HeldConnection) else None


def probe_endpoint(endpoint: Endpoint, probe: ProbeContext) -> Finding:
    skip = plaintext_finding(endpoint)
    if skip is not None:
        return skip
    settings = probe.run.settings
    try:
        response = http.fetch(
            probe.run, "GET", endpoint.api_url(TIME_PATH), authenticate=True, accept="text/plain, application/json",
            connection=tls_connection(probe, endpoint), keep=True,
        )
    except http.HttpFailure as failure:
        return with_exchange(probe.run, endpoint, failure_finding("api", failure, endpoint.base_url), failure)
    finding = with_exchange(probe.run, endpoint, judge(settings, endpoint, response), response)
    # The connection stays open for the token lookup, which waits for this result.
    return replace(finding, fact=response.connection)


def plan(ctx: RunContext) -> list[Probe]:
    found = targets(ctx.settings)
    if not found:
        return config_url.no_endpoint_probes(ctx)

    def probe_for(endpoint: Endpoint, target: str) -> Probe:
        run: Callable[[ProbeContext], Finding] = lambda probe: probe_endpoint(endpoint, probe)  # noqa: E731
        return Probe(target, run, requires=network_requires(ctx, endpoint), budget=http.BUDGET)

    return [probe_for(endpoint, target) for endpoint, target in found]


CHECK = Check(
    id=ID, title="Dynatrace API", codes=emits(CODES, PLAINTEXT_CODES, config_url.NO_ENDPOINT_CODES), plan=plan
)
