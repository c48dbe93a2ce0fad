"""``config.token``: is an API token configured, well-formed and stored safely?"""

from __future__ import annotations

import stat

from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, constant
from dtdoctor.config import Settings
from dtdoctor.core.codes import Code, codes, subset
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.host.secret_volume import acceptable_secret_mode

ID = "config.token"

CODES = codes(
    Code("token.present", Status.PASS, "An API token of the documented format is configured."),
    Code(
        "token.missing",
        Status.SKIP,
        "No API token is configured, so the checks that need one were skipped.",
        "Neither DT_API_TOKEN nor --token-file is set.",
        "Set DT_API_TOKEN to the token, or put it in a file readable only by you and pass "
        "--token-file PATH (- reads standard input). Create the token in Dynatrace under "
        "Access tokens > Generate new token with the scope Ingest events (events.ingest).",
    ),
    Code(
        "token.malformed",
        Status.FAIL,
        "The configured token does not have the Dynatrace token format.",
        "A truncated copy, surrounding quotes, a different kind of secret, or the token id without its secret part.",
        "Copy the whole token again from Dynatrace (Access tokens); it looks like "
        "dt0c01.<24 characters>.<64 characters>, upper-case letters and digits only.",
        when={Status.SKIP: "reported by a check that needs the token when config.token is not selected"},
    ),
    Code(
        "token.file_insecure",
        Status.WARN,
        "The token file can be read by other users of this host.",
        "The file was created with the default umask (mode 0644 or similar). A key of a Kubernetes Secret volume "
        "(a symlink into ..data/) that only its group can read (mode 0440 with the pod's fsGroup) is not reported.",
        "Restrict the file to its owner: chmod 600 <token-file>.",
    ),
)


# What a check that needs the token may report when there is none to use.
MISSING_CODES = subset(CODES, "token.missing")


def missing_token_probe(target: str) -> Probe:
    """The probe a token-needing check plans when no token is configured (its codes: ``MISSING_CODES``)."""
    return Probe(
        target,
        constant(Finding("token.missing", "skipped: no API token; set DT_API_TOKEN or use --token-file PATH")),
    )


def judge(settings: Settings) -> Finding:
    parsed, source = settings.token, settings.token_source
    if parsed is None:
        return Finding("token.missing", "no API token: set DT_API_TOKEN or use --token-file PATH")
    where = {"env": "DT_API_TOKEN", "file": f"token file {source.name}", "stdin": "standard input"}.get(
        source.kind, source.name
    )
    details: dict[str, object] = {"source": source.kind, "source_name": source.name}
    insecure = source.mode is not None and bool(source.mode & (stat.S_IRWXG | stat.S_IRWXO))
    if source.mode is not None:
        details["file_mode"] = f"{source.mode:04o}"
        if insecure and acceptable_secret_mode(source.name, source.mode):
            insecure = False  # a Kubernetes Secret volume readable by the pod's fsGroup only
            details["kubernetes_secret_volume"] = True
    if parsed.token is None:
        return Finding("token.malformed", f"the token from {where} is malformed: {parsed.error}", details)
    token = parsed.token
    details.update(
        {
            "token_id": token.token_id,
            "kind": "platform" if token.is_platform else "classic",
            "authorization": "Bearer" if token.is_platform else "Api-Token",
        }
    )
    if insecure:
        return Finding(
            "token.file_insecure",
            f"token file {source.name} is readable by group or others (mode {source.mode:04o})",
            details,
            remediation=f"Restrict the file to its owner: chmod 600 {source.name}",
        )
    return Finding("token.present", f"token {token.token_id} from {where}", details)


def plan(ctx: RunContext) -> list[Probe]:
    return [Probe(LOCAL, constant(judge(ctx.settings)))]


CHECK = Check(id=ID, title="API token", codes=CODES, plan=plan)
