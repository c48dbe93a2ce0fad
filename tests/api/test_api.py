"""The ``api`` check against real loopback servers that answer like Dynatrace, or like something else."""

from __future__ import annotations

from dtdoctor.core.model import Status
from tests.api.conftest import one
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN
from tests.support.fake_dynatrace import FakeDynatrace, Recorded, Reply, error, make_token, serve

GOOD = make_token("GOODTOKEN")


def dynatrace() -> FakeDynatrace:
    fake = FakeDynatrace()
    fake.add(GOOD)
    fake.add(CANARY_TOKEN)
    return fake


def test_dynatrace_answers_with_the_time(run, server_tls):
    with serve(dynatrace(), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.ok" and result.status is Status.PASS
    assert result.target == "127.0.0.1"
    assert result.details["status"] == 200
    assert result.details["http_version"] == "HTTP/1.1"
    assert isinstance(result.details["latency_ms"], int)
    assert result.details["token_sent"] is True
    assert server.paths() == ["GET /e/abc/api/v1/time"]
    assert server.requests[0].authorization == f"Api-Token {GOOD}"


def test_an_unknown_token_still_proves_dynatrace_answers(run, server_tls):
    with serve(dynatrace(), server_tls) as server:
        result = one(run(["api"], token=make_token("UNKNOWN"), url=server.url()), "api")
    assert result.code == "api.ok"
    assert result.details["status"] == 401
    assert "token check" in result.summary


def test_without_a_token_the_api_is_still_probed_without_authorization(run, server_tls):
    with serve(dynatrace(), server_tls) as server:
        result = one(run(["api"], url=server.url()), "api")
    assert result.code == "api.ok"
    assert result.details["token_sent"] is False
    assert server.requests[0].authorization is None


def test_a_captive_portal_is_not_dynatrace(run, server_tls):
    portal = "<!DOCTYPE html><html><head><title>Hotel WiFi login</title></head><body>Accept terms</body></html>"
    with serve(lambda request: Reply(200, portal, content_type="text/html"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace" and result.status is Status.FAIL
    assert "HTML" in result.summary
    assert "Hotel WiFi" in result.details["body_start"]


def test_a_foreign_error_shape_is_not_dynatrace(run, server_tls):
    with serve(lambda request: Reply(404, {"message": "no route"}), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace"


def test_a_plain_text_200_that_is_not_a_timestamp_is_not_dynatrace(run, server_tls):
    with serve(lambda request: Reply(200, "hello", content_type="text/plain"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace"


def test_server_errors_are_http_errors(run, server_tls):
    with serve(lambda request: error(503, "Service Unavailable"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.http_error" and result.status is Status.FAIL
    assert "503" in result.summary and "Service Unavailable" in result.summary


def test_rate_limiting_names_retry_after(run, server_tls):
    reply = error(429, "Too many requests")
    reply.headers["Retry-After"] = "42"
    with serve(lambda request: reply, server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.rate_limited" and result.status is Status.WARN
    assert result.details["retry_after"] == "42"
    assert "42" in result.summary and "42" in result.remediation


def test_a_redirect_to_another_host_is_reported_and_the_token_never_arrives_there(run, server_tls):
    elsewhere_app = dynatrace()
    with serve(elsewhere_app, server_tls) as elsewhere:
        target = f"{elsewhere.origin}/e/abc/api/v1/time?session=SECRETSESSION"
        with serve(lambda request: Reply(302, b"", {"Location": target}), server_tls) as server:
            result = one(run(["api"], token=GOOD, url=server.url()), "api")
        assert elsewhere.requests == []  # neither the token nor anything else went there
    assert result.code == "api.redirect" and result.status is Status.FAIL
    hop = result.details["redirects"][0]
    assert hop["followed"] is False
    assert hop["location"] == f"{elsewhere.origin}/e/abc/api/v1/time"  # query (may hold secrets) dropped
    assert "SECRETSESSION" not in str(result.to_json())
    assert elsewhere.origin in result.remediation


def test_a_redirect_within_the_same_origin_is_followed(run, server_tls):
    fake = dynatrace()

    def app(request: Recorded) -> Reply:
        if request.path == "/e/abc/api/v1/time":
            return Reply(301, b"", {"Location": "/e/abc/api/v1/time/"})
        if request.path == "/e/abc/api/v1/time/":
            return Reply(200, "1700000000000", content_type="text/plain")
        return fake(request)

    with serve(app, server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.ok"
    assert result.details["redirects"][0]["followed"] is True
    assert len(server.requests) == 2


def test_a_server_that_echoes_the_token_is_not_dynatrace_and_nothing_of_it_is_shown(run, server_tls):
    def echo(request: Recorded) -> Reply:
        return Reply(200, f"Authorization: {request.authorization}", content_type="text/plain")

    with serve(echo, server_tls) as server:
        result = one(run(["api"], token=CANARY_TOKEN, url=server.url()), "api")
    assert result.code == "api.not_dynatrace"
    assert result.details["echoes_token"] is True
    assert "body_start" not in result.details
    assert CANARY_SECRET not in str(result.to_json())


def test_a_server_that_stalls_mid_body_times_out_quickly(run, server_tls):
    with serve(lambda request: Reply(200, "1700000000000", content_type="text/plain", stall_after=4),
               server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url(), timeout=0.3), "api")
    assert result.code == "api.timeout"
    assert result.details["failure"] == "stalled"
    assert result.duration_ms < 2000


def test_a_huge_body_is_capped_at_one_mebibyte(run, server_tls):
    huge = b"1" * (3 * 1024 * 1024)
    with serve(lambda request: Reply(200, huge, content_type="text/plain"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace"
    assert result.details["body_truncated_at"] == 1024 * 1024
    assert result.details["body_bytes"] == 1024 * 1024


def test_an_untrusted_certificate_is_a_tls_error(run, server_tls, tmp_path):
    import trustme

    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with serve(dynatrace(), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url(), ca_bundle=str(other_ca)), "api")
        assert server.requests == []
    assert result.code == "api.tls_error"
    assert "certificate" in result.summary


def test_plain_http_to_another_host_is_skipped_without_any_request(run):
    result = one(run(["api"], token=GOOD, url="http://dynatrace.example.invalid/e/abc"), "api")
    assert result.code == "url.plaintext" and result.status is Status.SKIP


def test_plain_http_to_loopback_is_allowed(run):
    with serve(dynatrace()) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.ok"
    assert server.requests[0].authorization == f"Api-Token {GOOD}"


def test_activegates_with_an_environment_path_are_probed_too(run, server_tls):
    with serve(dynatrace(), server_tls) as env, serve(dynatrace(), server_tls) as gate:
        results = run(["api"], token=GOOD, url=env.url(), activegates=(gate.url(),))
    assert [(r.target, r.code) for r in results] == [
        ("127.0.0.1", "api.ok"),
        (f"127.0.0.1:{gate.port}", "api.ok"),
    ]


def test_a_dropping_endpoint_times_out(run):
    from tests.support.listeners import blackhole_port

    with blackhole_port() as port:
        result = one(run(["api"], token=GOOD, url=f"https://127.0.0.1:{port}/e/abc", timeout=0.3), "api")
    assert result.code == "api.timeout"
    assert result.details["failure"] == "timeout"


def test_a_load_balancers_html_502_is_a_server_error(run, server_tls):
    page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    with serve(lambda request: Reply(502, page, content_type="text/html"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.http_error"
    assert "proxy or load balancer" in result.summary
