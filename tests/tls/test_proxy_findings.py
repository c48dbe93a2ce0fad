"""tunnel_finding fed a TunnelError directly: the remediation belongs to the stage and the proxy's answer."""

from __future__ import annotations

import pytest

from dtdoctor.checks import proxy
from dtdoctor.checks.proxy import tunnel_finding
from dtdoctor.net.tunnel import CONNECT, PROXY_TLS, STATUS, TIMEOUT, TunnelError
from tests.support.tls_servers import TENANT
from tests.tls.helpers import ctx_for, only, run

DEST = "abc.live.dynatrace.com:443"


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (TunnelError(STATUS, "m", 403, "Forbidden"), f"The proxy's policy forbids CONNECT to {DEST}"),
        (TunnelError(STATUS, "m", 502, "Bad Gateway"), f"The proxy itself cannot reach {DEST} (502)"),
        (TunnelError(STATUS, "m", 503, "Unavailable"), f"The proxy itself cannot reach {DEST} (503)"),
        (TunnelError(STATUS, "m", 504, "Gateway Timeout"), f"The proxy itself cannot reach {DEST} (504)"),
        (TunnelError(PROXY_TLS, "m", reason="plain_http"), "Write the proxy URL with http://"),
        (TunnelError(PROXY_TLS, "m", reason="name"), "Write the proxy URL with a name its certificate covers"),
        (TunnelError(PROXY_TLS, "m", reason="verify"), "Pass the CA that issued the proxy's own certificate"),
        (TunnelError(PROXY_TLS, "m", reason="expired"), "Ask the proxy's administrators to renew its own certificate"),
        (TunnelError(PROXY_TLS, "m", reason="not_yet_valid"), "Check this host's clock"),
        (TunnelError(PROXY_TLS, "m", reason="other"), "Check that the proxy's port speaks TLS"),
    ],
)
def test_the_remediation_follows_the_stage_and_status(error: TunnelError, fix: str) -> None:
    finding = tunnel_finding(error, "proxy.corp:3128", DEST)
    assert finding.code == "proxy.failed" and finding.summary == "m"
    assert finding.remediation is not None and finding.remediation.startswith(fix)
    assert finding.evidence.route == "proxy" and finding.evidence.proxy == "proxy.corp:3128"


@pytest.mark.parametrize(
    "error",
    [
        TunnelError(STATUS, "m", 500, "Internal"),
        TunnelError(CONNECT, "m", reason="refused"),
        TunnelError(TIMEOUT, "m"),
    ],
)
def test_other_failures_carry_no_remediation_of_their_own(error: TunnelError) -> None:
    finding = tunnel_finding(error, "proxy.corp:3128", DEST)
    assert finding.code == "proxy.failed"
    assert finding.remediation is None
    assert finding.details["stage"] == error.stage
    assert finding.evidence.http_status == error.status
    assert finding.evidence.error == (None if error.status is not None else error.reason or error.stage)


def test_direct_summary_names_settings_that_do_not_apply_and_no_proxy_matches() -> None:
    environ = {"HTTP_PROXY": "http://proxy.corp:3128", "HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "test"}
    result = only(run(proxy, ctx=ctx_for(f"https://{TENANT}:443", environ=environ)), "proxy")
    assert result.code == "proxy.none"
    assert result.summary == (
        "no proxy applies: endpoints are reached directly (HTTP_PROXY set but not used for https:// endpoints "
        f"(that needs HTTPS_PROXY); sent direct by {TENANT}:443: NO_PROXY=test)"
    )
    assert result.remediation.startswith("If this host must use a proxy for Dynatrace, set HTTPS_PROXY")


def test_direct_summary_without_any_setting_is_plain() -> None:
    result = only(run(proxy, ctx=ctx_for(f"https://{TENANT}:443", environ={})), "proxy")
    assert result.code == "proxy.none"
    assert result.summary == "no proxy applies: endpoints are reached directly"
    assert result.details["ignored_settings"] == [] and result.details["no_proxy_matches"] == {}
