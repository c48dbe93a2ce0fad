"""The ``activegate`` check: /rest/health on each configured ActiveGate."""

from __future__ import annotations

from dtdoctor.core.model import Status
from tests.api.conftest import one
from tests.support.fake_dynatrace import FakeDynatrace, Reply, make_token, serve
from tests.support.listeners import closed_port

TOKEN = make_token("GATE")


def test_a_running_activegate(run, server_tls):
    with serve(FakeDynatrace(), server_tls) as gate:
        result = one(run(["activegate"], token=TOKEN, activegates=(gate.origin,)), "activegate")
        assert gate.paths() == ["GET /rest/health"]
        assert gate.requests[0].authorization is None  # the health endpoint needs no token
    assert result.code == "activegate.running" and result.status is Status.PASS
    assert result.target == gate.address


def test_a_quoted_running_counts_too(run, server_tls):
    with serve(lambda request: Reply(200, '"RUNNING"\n', content_type="application/json"), server_tls) as gate:
        assert one(run(["activegate"], activegates=(gate.url(),)), "activegate").code == "activegate.running"


def test_an_activegate_that_is_not_running_shows_what_it_answered(run, server_tls):
    with serve(lambda request: Reply(503, "STARTING", content_type="text/plain"), server_tls) as gate:
        result = one(run(["activegate"], activegates=(gate.origin,)), "activegate")
    assert result.code == "activegate.not_running" and result.status is Status.FAIL
    assert result.details["status"] == 503
    assert "STARTING" in result.summary and "STARTING" in result.details["body_start"]
    assert "dynatracegateway" in result.remediation


def test_an_activegate_that_is_down(run):
    port = closed_port()
    result = one(run(["activegate"], activegates=(f"https://127.0.0.1:{port}",)), "activegate")
    assert result.code == "activegate.unreachable"
    assert result.details["failure"] == "refused"


def test_no_activegate_configured_plans_nothing(run):
    assert run(["activegate"], url="https://abc12345.live.dynatrace.com") == []
