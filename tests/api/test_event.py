"""The opt-in ``event`` check, and the guarantee that nothing is posted without --send-test-event."""

from __future__ import annotations

from dtdoctor import __version__
from dtdoctor.core.model import Status
from tests.api.conftest import by_id, one
from tests.support.fake_dynatrace import FakeDynatrace, Recorded, Reply, error, make_token, serve
from tests.support.listeners import closed_port

FINE = make_token("FINE")
NOSCOPE = make_token("NOSCOPE")


def dynatrace() -> FakeDynatrace:
    fake = FakeDynatrace()
    fake.add(FINE)
    fake.add(NOSCOPE, scopes=("events.read",))
    return fake


class FakeOneAgent:
    """OneAgent's local ingest endpoint on plain HTTP: takes events without a token."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def __call__(self, request: Recorded) -> Reply:
        if request.method == "POST" and request.path == "/v2/events/ingest":
            self.events.append(request.json())
            return Reply(201, {"reportCount": 1, "eventIngestResults": [{"correlationId": "local1", "status": "OK"}]})
        return Reply(404, b"", content_type="text/plain")


ALL = ["api", "activegate", "token", "event"]


def test_without_the_flag_nothing_is_posted_anywhere(run, server_tls):
    env_fake, gate_fake, agent = dynatrace(), dynatrace(), FakeOneAgent()
    with serve(env_fake, server_tls) as env, serve(gate_fake, server_tls) as gate, serve(agent) as local:
        results = run(ALL, token=FINE, url=env.url(), activegates=(gate.url(),), eec_port=local.port)
        requests = env.requests + gate.requests
        assert local.requests == []
    assert by_id(results, "event") == []
    assert env_fake.events == [] and gate_fake.events == [] and agent.events == []
    assert not [r for r in requests if r.path.endswith("/events/ingest")]
    # Only what the checks document: the time, the health, one lookup.
    assert sorted(f"{r.method} {r.path}" for r in requests) == sorted([
        "GET /e/abc/api/v1/time",
        "GET /e/abc/api/v1/time",
        "GET /rest/health",
        "POST /e/abc/api/v2/apiTokens/lookup",
    ])


def test_with_the_flag_exactly_one_event_per_ingest_path(run, server_tls):
    env_fake, gate_fake, agent = dynatrace(), dynatrace(), FakeOneAgent()
    with serve(env_fake, server_tls) as env, serve(gate_fake, server_tls) as gate, serve(agent) as local:
        results = run(["event"], token=FINE, url=env.url(), activegates=(gate.url(),), eec_port=local.port,
                      send_test_event=True)
        assert local.requests[0].authorization is None
        assert "content-encoding" not in local.requests[0].headers
    events = by_id(results, "event")
    assert [(r.target, r.code) for r in events] == [
        ("127.0.0.1", "event.sent"),
        (f"127.0.0.1:{gate.port}", "event.sent"),
        (f"127.0.0.1:{local.port}", "event.sent"),
    ]
    assert len(env_fake.events) == 1 and len(gate_fake.events) == 1 and len(agent.events) == 1
    event = env_fake.events[0]
    assert event["eventType"] == "CUSTOM_INFO" and event["title"] == "dtdoctor connectivity test"
    assert event["properties"]["dtdoctor.version"] == __version__
    assert event["properties"]["dtdoctor.host"]
    assert events[0].details["correlation_ids"] == ["c0ffee0001"]
    assert "c0ffee0001" in events[0].summary


def test_a_token_without_the_scope_is_rejected_with_dynatraces_message(run, server_tls):
    with serve(dynatrace(), server_tls) as env:
        results = run(["event"], token=NOSCOPE, url=env.url(), eec_port=closed_port(), send_test_event=True)
    result = by_id(results, "event")[0]
    assert result.code == "event.rejected" and result.status is Status.FAIL
    assert "missing required scope" in result.summary
    assert "add scope Ingest events (events.ingest)" in result.remediation


def test_a_local_endpoint_that_is_not_enabled(run):
    port = closed_port()
    result = one(run(["event"], eec_port=port, send_test_event=True), "event")
    assert result.target == f"127.0.0.1:{port}"
    assert result.code == "event.failed"
    assert "nothing listens" in result.summary
    assert "Extension Execution Controller" in result.remediation


def test_a_local_endpoint_that_refuses_the_event(run):
    with serve(lambda request: error(400, "Invalid payload")) as local:
        result = one(run(["event"], eec_port=local.port, send_test_event=True), "event")
    assert result.code == "event.rejected"
    assert "Invalid payload" in result.summary


def test_without_a_token_the_remote_paths_are_skipped_but_the_local_one_is_tried(run, server_tls):
    agent = FakeOneAgent()
    with serve(dynatrace(), server_tls) as env, serve(agent) as local:
        results = run(["event"], url=env.url(), eec_port=local.port, send_test_event=True)
        assert env.requests == []
    assert [(r.code, r.status) for r in results] == [("token.missing", Status.SKIP), ("event.sent", Status.PASS)]
    assert len(agent.events) == 1


def test_an_endpoint_on_the_local_port_is_not_planned_twice(run, server_tls):
    with serve(dynatrace(), server_tls) as env, serve(FakeOneAgent()) as local:
        results = run(["event"], token=FINE, url=env.url(), activegates=(f"http://127.0.0.1:{local.port}/e/abc",),
                      eec_port=local.port, send_test_event=True)
    assert [r.target for r in results] == ["127.0.0.1", f"127.0.0.1:{local.port}"]


def test_an_ingest_result_that_is_not_ok_is_a_rejection(run, server_tls):
    body = {"reportCount": 0, "eventIngestResults": [{"correlationId": "x1", "status": "INVALID_ENTITY_TYPE"}]}
    with serve(lambda request: Reply(201, body), server_tls) as env:
        results = run(["event"], token=FINE, url=env.url(), eec_port=closed_port(), send_test_event=True)
    result = by_id(results, "event")[0]
    assert result.code == "event.rejected"
    assert "INVALID_ENTITY_TYPE" in result.summary
