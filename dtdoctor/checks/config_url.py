"""``config.url``: is the environment URL (and each ActiveGate URL) usable?"""

from __future__ import annotations

from dtdoctor.checks.base import NO_TARGET, Check, Finding, Probe, constant, unique_target
from dtdoctor.config import EndpointKind, ParsedUrl, Settings
from dtdoctor.core.codes import Code, codes, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status

ID = "config.url"

FORMS = (
    "SaaS https://<env-id>.live.dynatrace.com (an apps URL is converted to it), Managed https://<domain>/e/<env-id>, "
    "Environment ActiveGate https://<activegate>:9999/e/<env-id>, "
    "Containerized ActiveGate https://<activegate>/e/<env-id>"
)

CODES = codes(
    Code(
        "url.ok", Status.PASS, "The URL has a Dynatrace form and is usable.", summary="{kind_label} at {_address}{_env}"
    ),
    Code(
        "url.missing",
        Status.SKIP,
        "No environment URL is configured, so the remote checks were skipped.",
        "Neither --url nor DT_ENVIRONMENT_URL is set.",
        f"Set --url or DT_ENVIRONMENT_URL to your environment URL: {FORMS}.",
    ),
    Code(
        "url.invalid",
        Status.ERROR,
        "The URL cannot be parsed or is not of a form dtdoctor can use.",
        "A typo, a missing host, an unsupported scheme, credentials or an unexpected path in the URL.",
        f"Fix the URL. Accepted forms: {FORMS}; a trailing /api/... or slash is tolerated.",
        summary="{_what} {_text!r} is invalid: {_error}",
    ),
    Code(
        "url.plaintext",
        Status.FAIL,
        "The URL uses http:// to another host: the token would travel unencrypted.",
        "The URL was written with http:// instead of https://.",
        "Use https://. Dynatrace endpoints and ActiveGates accept HTTPS only; dtdoctor never sends the "
        "token over plain HTTP except to this machine.",
        when={Status.SKIP: "reported by a check that would have sent the token there: it sent nothing"},
        summary="{_what} uses http:// to {host}: the token will not be sent there",
    ),
    Code(
        "url.apps_converted",
        Status.WARN,
        "The URL is a Latest Dynatrace apps URL; the events API is served on the environment's classic host, "
        "which dtdoctor checks instead.",
        "The URL was copied from the browser (https://<env-id>.apps.dynatrace.com): the classic Environment "
        "API v2, where events are ingested, is served on https://<env-id>.live.dynatrace.com (sprint and dev "
        "stages: the same host without apps), as Dynatrace's operator, Monaco and Terraform provider convert it.",
        "Configure the classic URL shown in the result ({url}) so every client of the events API uses the "
        "host that serves it.",
        summary="apps URL: the events API is served at {url}; dtdoctor checks that host (you gave {converted_from})",
    ),
    Code(
        "url.unrecognized",
        Status.WARN,
        "The URL is valid but matches none of the Dynatrace URL forms.",
        "A SaaS URL on a custom domain, or a Managed or ActiveGate URL without the /e/<env-id> path.",
        f"Check the URL against the Dynatrace forms: {FORMS}.",
        summary="{_what} {url} matches no Dynatrace URL form (no /e/<env-id> path, not a SaaS domain)",
    ),
)


# What ``no_endpoint_probes`` can report: every remote check declares these.
NO_ENDPOINT_CODES = subset(CODES, "url.missing", "url.invalid")


def missing_url_probe() -> Probe:
    """The probe a remote check plans when no environment URL is configured."""
    return Probe(
        NO_TARGET,
        constant(Finding("url.missing", "skipped: no environment URL; set --url or DT_ENVIRONMENT_URL")),
    )


def targets(settings: Settings) -> list[tuple[ParsedUrl, str]]:
    """Every configured URL with the target its result uses (the host, made unique)."""
    parsed = ([settings.url] if settings.url else []) + list(settings.activegates)
    found: list[tuple[ParsedUrl, str]] = []
    used: set[str] = set()
    for item in parsed:
        if item.endpoint is None:
            found.append((item, unique_target(NO_TARGET, NO_TARGET, used)))
        else:
            found.append((item, unique_target(item.endpoint.host, item.endpoint.address, used)))
    return found


def classify(parsed: ParsedUrl) -> tuple[str, dict[str, object]]:
    """The verdict on one URL: its code and the evidence behind it."""
    endpoint = parsed.endpoint
    if endpoint is None:
        return "url.invalid", {"url": parsed.text, "error": parsed.error}
    evidence: dict[str, object] = {
        "url": endpoint.base_url,
        "kind": endpoint.kind.value,
        "kind_label": endpoint.kind.label,
        "environment_id": endpoint.environment_id,
        "host": endpoint.host,
        "port": endpoint.port,
        "role": endpoint.role,
    }
    if endpoint.notes:
        evidence["notes"] = list(endpoint.notes)
    if endpoint.converted_from:
        evidence["converted_from"] = endpoint.converted_from
    rules = (
        ("url.plaintext", endpoint.plaintext and not endpoint.is_loopback),
        ("url.unrecognized", endpoint.kind is EndpointKind.UNRECOGNIZED),
        ("url.apps_converted", endpoint.converted_from is not None),
    )
    return next((code for code, applies in rules if applies), "url.ok"), evidence


def judge(parsed: ParsedUrl) -> Finding:
    """The code and its evidence; the ``_`` names serve the code's wording only."""
    code, evidence = classify(parsed)
    endpoint = parsed.endpoint
    role = parsed.role if endpoint is None else endpoint.role
    wording = {
        "_what": "environment URL" if role == "environment" else "ActiveGate URL",
        "_text": parsed.text,
        "_error": evidence.pop("error", None),
        "_address": endpoint.address if endpoint else "",
        "_env": f", environment {endpoint.environment_id}" if endpoint and endpoint.environment_id else "",
    }
    return Finding(code, details={**evidence, **wording})


def plan(ctx: RunContext) -> list[Probe]:
    found = targets(ctx.settings)
    if not found:
        return [
            Probe(
                NO_TARGET,
                constant(Finding("url.missing", "no environment URL: set --url or DT_ENVIRONMENT_URL")),
            )
        ]
    return [Probe(target, constant(judge(parsed))) for parsed, target in found]


def no_endpoint_probes(ctx: RunContext) -> list[Probe]:
    """What a remote check plans when there is no usable endpoint to probe.

    With no URL at all: a skip that names the option. With URLs that are all
    unusable: a probe that needs their ``config.url`` result, so the runner
    skips it naming that result (and, when ``config`` is not selected, the
    probe itself says why).
    """
    invalid = [(parsed, target) for parsed, target in targets(ctx.settings) if parsed.endpoint is None]
    if not invalid:
        return [missing_url_probe()]
    parsed, target = invalid[0]
    return [Probe(NO_TARGET, constant(judge(parsed)), requires=((ID, target),))]


CHECK = Check(id=ID, title="Environment URL", codes=CODES, plan=plan)
