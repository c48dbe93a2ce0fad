"""Typed evidence: written by the real checks against the test servers, read back from JSON unchanged."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

from dtdoctor.core.model import CheckResult, Evidence, utc_timestamp
from tests.api.conftest import one
from tests.support import live_run
from tests.support.connect_proxy import connect_proxy
from tests.support.fake_dynatrace import FakeDynatrace, make_token, serve


def by_code(outputs: live_run.Outputs) -> dict[tuple[str, str], CheckResult]:
    return {(result.id, result.code): result for result in outputs.report.checks}


def test_the_real_checks_fill_the_typed_fields(tmp_path: Path) -> None:
    with live_run.lab(tmp_path, certificate_days=10.5, token_days=5.5) as lab:
        outputs = live_run.check(lab, tmp_path)
    assert outputs.run.exit_code == 1, outputs.run.stderr
    results = by_code(outputs)

    tls = results[("tls", "tls.expiring_soon")].evidence
    assert tls.certificate_expires_at == utc_timestamp(lab.certificate_expires)
    assert tls.certificate_issuer == "CN=dtdoctor Sample Issuing CA,O=dtdoctor tests"
    assert tls.certificate_root == "CN=dtdoctor Sample Root CA,O=dtdoctor samples"
    assert tls.route == "direct" and tls.proxy is None
    assert tls.latency_ms is not None and tls.latency_ms >= 0
    assert tls.token_expires_at is None

    token = results[("token", "token.expiring_soon")].evidence
    assert lab.token_expires is not None
    assert token.token_expires_at == utc_timestamp(lab.token_expires)
    assert token.http_status == 200 and token.route == "direct"
    assert token.certificate_expires_at is None

    api = results[("api", "api.ok")].evidence
    assert api.http_status == 200 and api.latency_ms is not None
    gateway = results[("activegate", "activegate.running")].evidence
    assert gateway.http_status == 200
    tcp = [result for result in outputs.report.checks if result.id == "tcp"]
    assert tcp and all(result.evidence.latency_ms is not None for result in tcp)


def test_a_missing_scope_is_typed(tmp_path: Path) -> None:
    with live_run.lab(tmp_path, scopes=("logs.ingest",)) as lab:
        outputs = live_run.check(lab, tmp_path)
    token = by_code(outputs)[("token", "token.missing_scope")].evidence
    assert token.missing_scopes == ("events.ingest",)
    assert token.http_status == 200


def test_the_route_through_a_proxy_is_typed(run, ca) -> None:
    tenant = "tenant.dtdoctor.test"
    token = make_token("EVIDENCEPROXY")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(tenant).configure_cert(context)
    fake = FakeDynatrace()
    fake.add(token, scopes=("events.ingest",))
    with serve(fake, tls=context) as server, connect_proxy() as proxy_port:
        results = run(["tcp", "proxy", "tls", "api", "token"], token=token, url=f"https://{tenant}:{server.port}/e/abc",
                      environ={"HTTPS_PROXY": f"http://user:pass@127.0.0.1:{proxy_port}"})
    shown = f"http://<credentials>@127.0.0.1:{proxy_port}"  # never the credentials themselves
    for check_id in ("tcp", "tls", "api", "token"):
        evidence = one(results, check_id).evidence
        assert (evidence.route, evidence.proxy) == ("proxy", shown), check_id
    assert one(results, "proxy").evidence.latency_ms is not None
    assert one(results, "api").evidence.http_status == 200


def test_a_refused_connection_names_its_error(tmp_path: Path) -> None:
    from tests.support.listeners import closed_port
    from tests.support.reports import run_cli

    port = closed_port()
    run = run_cli(["check", "--url", f"https://127.0.0.1:{port}/e/abc", "--only", "tcp", "-f", "json"])
    result = CheckResult.from_json(json.loads(run.stdout)["checks"][0])
    assert result.code == "tcp.refused"
    assert result.evidence.error is not None and "ECONNREFUSED" in result.evidence.error
    assert result.evidence.latency_ms is None  # nothing was connected


def test_evidence_round_trips_and_ignores_wrong_types() -> None:
    full = Evidence(latency_ms=12.5, http_status=503, route="proxy", proxy="http://proxy:3128",
                    certificate_issuer="CN=I", certificate_root="CN=R", certificate_expires_at="2027-01-31T12:00:00Z",
                    token_expires_at="2026-12-01T00:00:00Z", missing_scopes=("events.ingest",), error="ETIMEDOUT")
    assert Evidence.from_json(full.to_json()) == full
    assert Evidence().to_json() == {}
    hostile = {"latency_ms": "12", "http_status": True, "route": "teleport", "proxy": 3128,
               "certificate_expires_at": "soon", "missing_scopes": "events.ingest", "error": ["x"]}
    assert Evidence.from_json(hostile) == Evidence()
    # Offsets and fractions of a second are read, and written back as whole seconds in UTC.
    assert Evidence.from_json({"token_expires_at": "2026-12-01T01:00:00.5+01:00"}).token_expires_at == (
        "2026-12-01T00:00:00Z")


def test_merged_keeps_what_it_has_and_fills_the_rest() -> None:
    own = Evidence(http_status=407, proxy="http://p:3128")
    assert own.merged(Evidence(http_status=200, route="proxy", latency_ms=3)) == Evidence(
        http_status=407, proxy="http://p:3128", route="proxy", latency_ms=3)
