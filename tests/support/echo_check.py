"""A check, for secret-safety tests, that asks a loopback server which echoes the token back.

It behaves like the worst real case: the server's answer (containing the
token) lands in the summary, the remediation and the details, and a second
probe crashes with the answer in its exception, so it lands in a traceback.
Register it by extending ``dtdoctor.checks.CHECKS`` in a test.
"""

from __future__ import annotations

import json
from typing import Any

from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status

CODES = codes(Code("echo.answered", Status.FAIL, "The server answered with what it was sent.", "", "Rotate the token."))


def ask(probe_ctx: ProbeContext) -> str:
    import httpx

    settings = probe_ctx.run.settings
    endpoint, token = settings.environment, settings.api_token
    assert endpoint is not None and token is not None and settings.token_may_go_to(endpoint)
    response = httpx.get(
        endpoint.api_url("/api/v2/apiTokens/lookup"),
        headers={"Authorization": token.authorization},
        timeout=probe_ctx.timeout,
    )
    return response.text


def echoed(probe_ctx: ProbeContext) -> Finding:
    answer = ask(probe_ctx)
    token = probe_ctx.run.settings.api_token
    assert token is not None
    return Finding(
        "echo.answered",
        f"the server answered {answer}",
        {"answer": answer, "nested": {"list": [answer, {"token": token.value}]}, "secret_fragment": token.secret[7:40],
         "latency_ms": 1, "expiry": "2027-01-01T00:00:00Z"},
        remediation=f"rotate the token {token.value}",
    )


def crashing(probe_ctx: ProbeContext) -> Finding:
    raise RuntimeError(f"unexpected answer {ask(probe_ctx)}")


def plan(ctx: RunContext) -> list[Probe]:
    endpoint = ctx.settings.environment
    assert endpoint is not None
    return [Probe(endpoint.address, echoed), Probe(f"{endpoint.address}/crash", crashing)]


CHECK = Check(id="echo", title="Echoing server", codes=CODES, plan=plan)


def echo_token(request: Any) -> Any:
    """A werkzeug handler for a token lookup that answers 401 with the token it was sent, whole and in parts."""
    from werkzeug import Response

    authorization = request.headers.get("Authorization", "")
    secret = authorization.rsplit(".", 1)[-1]
    body = {"echo": authorization, "secret": secret, "truncated": secret[5:25], "error": f"bad {secret}"}
    return Response(json.dumps(body), status=401, content_type="application/json")
