"""``config.token``: is an API token configured, of a kind that can send events, and stored safely?

Every kind of Dynatrace token is told apart by its prefix (docs "Tokens and
authentication", token prefixes): classic access tokens (``dt0c01``),
old-format tokens (no prefix, made before Dynatrace 1.205/1.210, still
valid), platform tokens (``dt0s16``), OAuth client credentials (``dt0s02``)
and ActiveGate tokens (``dt0g02``). The last two are not API tokens: a
failure with its own code. Whitespace and invisible characters are removed
before the checks run and reported here (dynatrace-operator's ``dttoken``
refuses a token with surrounding whitespace; clients that do not trim fail).
"""

from __future__ import annotations

import stat

from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, constant
from dtdoctor.config import ParsedToken, Settings, TokenKind, TokenSource
from dtdoctor.core.codes import Code, codes, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.host.secret_volume import acceptable_secret_mode

ID = "config.token"

_NEW_TOKEN = (
    "Generate an access token in Dynatrace (Access tokens > Generate new token) with the scope Ingest events "
    "(events.ingest); it looks like dt0c01.<24 characters>.<64 characters>"
)

CODES = codes(
    Code(
        "token.present", Status.PASS, "An access token of the documented format is configured.",
        summary="token {token_id} from {_source}",
    ),
    Code(
        "token.platform",
        Status.PASS,
        "A platform token (dt0s16) is configured; whether the classic events API accepts it is checked by the "
        "token check, since no Dynatrace source confirms it.",
        "Platform tokens are made for Latest Dynatrace platform services; the events ingest documentation names "
        "classic access tokens.",
        "If the token check cannot confirm it, use a classic access token: " + _NEW_TOKEN + ".",
        summary="platform token {token_id} from {_source}; sent as {authorization}, which the token check tests",
    ),
    Code(
        "token.old_format",
        Status.WARN,
        "An old-format token (made before Dynatrace 1.205) is configured; Dynatrace documents that such tokens "
        "remain valid.",
        "The token was generated before Dynatrace switched to the dt0c01.<public>.<secret> format.",
        "It still works; replace it when convenient: " + _NEW_TOKEN + ". The new format can be recognised by "
        "secret scanners and shown by its public id.",
        summary="old-format token {token_id} from {_source}: still valid, a new dt0c01 token is recommended",
    ),
    Code(
        "token.oauth_client",
        Status.FAIL,
        "The configured token is an OAuth client credential (dt0s02), not an API token.",
        "An OAuth client id or secret of Account Management was copied instead of an access token.",
        "OAuth clients get platform access through an OAuth flow; the events API needs an access token. "
        + _NEW_TOKEN + ".",
        summary="the token from {_source} is an OAuth client credential ({token_id}), not an API token",
    ),
    Code(
        "token.activegate_token",
        Status.FAIL,
        "The configured token is an ActiveGate token (dt0g02), not an API token.",
        "The token an ActiveGate uses to connect to Dynatrace was copied instead of an access token.",
        "ActiveGate tokens only authenticate ActiveGates. " + _NEW_TOKEN + ".",
        summary="the token from {_source} is an ActiveGate token ({token_id}), not an API token",
    ),
    Code(
        "token.whitespace",
        Status.WARN,
        "The token has whitespace or invisible characters around or inside it; dtdoctor checks it without them.",
        "A carriage return from a file written on Windows, a byte-order mark, a non-breaking or zero-width space "
        "from a copy out of a web page or chat, or a newline from a YAML block scalar. Clients that do not trim "
        "the value send it as is and are refused (dynatrace-operator rejects such a token).",
        "Remove the characters named in the result from where the token is stored; a token file's final newline "
        "is fine.",
        summary="the token from {_source} has whitespace or invisible characters ({_strays}); the checks "
        "use it without them",
    ),
    Code(
        "token.missing",
        Status.SKIP,
        "No API token is configured, so the checks that need one were skipped.",
        "Neither DT_API_TOKEN nor --token-file is set.",
        "Set DT_API_TOKEN to the token, or put it in a file readable only by you and pass "
        "--token-file PATH (- reads standard input). Create the token in Dynatrace under "
        "Access tokens > Generate new token with the scope Ingest events (events.ingest).",
        summary="no API token: set DT_API_TOKEN or use --token-file PATH",
    ),
    Code(
        "token.malformed",
        Status.FAIL,
        "The configured token does not have the Dynatrace token format.",
        "A truncated copy, surrounding quotes, a different kind of secret, or the token id without its secret part.",
        "Copy the whole token again from Dynatrace (Access tokens); it looks like "
        "dt0c01.<24 characters>.<64 characters>, upper-case letters and digits only.",
        when={Status.SKIP: "reported by a check that needs the token when config.token is not selected"},
        summary="the token from {_source} is malformed: {_error}",
    ),
    Code(
        "token.file_insecure",
        Status.WARN,
        "The token file can be read by other users of this host.",
        "The file was created with the default umask (mode 0644 or similar). A key of a Kubernetes Secret volume "
        "(a symlink into ..data/) that only its group can read (mode 0440 with the pod's fsGroup) is not reported.",
        "Restrict the file to its owner: chmod 600 {source_name}",
        summary="token file {source_name} is readable by group or others (mode {file_mode})",
    ),
)

# Kinds that are not API tokens at all: named as such even when their shape is off.
_WRONG_KINDS = {TokenKind.OAUTH_CLIENT, TokenKind.ACTIVEGATE}

_BY_KIND = {
    TokenKind.OAUTH_CLIENT: "token.oauth_client",
    TokenKind.ACTIVEGATE: "token.activegate_token",
    TokenKind.OLD_FORMAT: "token.old_format",
    TokenKind.PLATFORM: "token.platform",
}


def _insecure(source: TokenSource) -> bool:
    return source.mode is not None and bool(source.mode & (stat.S_IRWXG | stat.S_IRWXO))


def _secret_volume(source: TokenSource) -> bool:
    """A Kubernetes Secret volume's key, readable by the pod's fsGroup only: not an insecure file."""
    return source.mode is not None and _insecure(source) and acceptable_secret_mode(source.name, source.mode)


def evidence(parsed: ParsedToken, source: TokenSource) -> dict[str, object]:
    found: dict[str, object] = {"source": source.kind, "source_name": source.name}
    if source.mode is not None:
        found["file_mode"] = f"{source.mode:04o}"
    if _secret_volume(source):
        found["kubernetes_secret_volume"] = True
    if parsed.kind is not None:
        found["kind"] = parsed.kind.value
        found["kind_label"] = parsed.kind.label
    if parsed.shown:
        found["token_id"] = parsed.shown
    if parsed.strays:
        found["strays"] = [stray.describe() for stray in parsed.strays]
    if parsed.token is not None:
        found["token_id"] = parsed.token.token_id
        found["authorization"] = parsed.token.scheme
    return found


def findings(parsed: ParsedToken, source: TokenSource) -> list[str]:
    """Every code that applies to the token, worst first (the table of verdicts)."""
    kind_code = _BY_KIND.get(parsed.kind) if parsed.kind is not None else None
    wrong_kind = parsed.kind in _WRONG_KINDS
    rules = (
        (kind_code, parsed.token is None and wrong_kind),  # a wrong kind: not an API token at all
        ("token.malformed", parsed.token is None),
        ("token.whitespace", bool(parsed.strays)),
        ("token.file_insecure", _insecure(source) and not _secret_volume(source)),
        (kind_code, parsed.token is not None or wrong_kind),
    )
    return list(dict.fromkeys(code for code, applies in rules if applies and code is not None))


def classify(parsed: ParsedToken | None, source: TokenSource) -> tuple[str, dict[str, object]]:
    """The verdict on the configured token, its evidence, and the other findings in ``also``."""
    if parsed is None:
        return "token.missing", {}
    found = evidence(parsed, source)
    applying = findings(parsed, source) or ["token.present"]
    code = applying[0]
    also = [other for other in applying[1:] if other != "token.malformed"]
    if also:
        found["also"] = also
    if parsed.error and code == "token.malformed":
        found["error"] = parsed.error
    return code, found


# What a check that needs the token may report when there is none to use.
MISSING_CODES = subset(CODES, "token.missing")


def missing_token_probe(target: str) -> Probe:
    """The probe a token-needing check plans when no token is configured (its codes: ``MISSING_CODES``)."""
    return Probe(
        target,
        constant(Finding("token.missing", "skipped: no API token; set DT_API_TOKEN or use --token-file PATH")),
    )


def judge(settings: Settings) -> Finding:
    """The code and its evidence; the ``_`` names serve the code's wording only."""
    parsed, source = settings.token, settings.token_source
    code, found = classify(parsed, source)
    wording = {
        "_source": source.label,
        "_error": found.pop("error", ""),
        "_strays": ", ".join(stray.describe() for stray in parsed.strays) if parsed else "",
    }
    return Finding(code, details={**found, **wording})


def plan(ctx: RunContext) -> list[Probe]:
    return [Probe(LOCAL, constant(judge(ctx.settings)))]


CHECK = Check(id=ID, title="API token", codes=CODES, plan=plan)
