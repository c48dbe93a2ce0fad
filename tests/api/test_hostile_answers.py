"""Hostile or broken answers to the API checks: each becomes a precise finding, never a crash or a hang."""

from __future__ import annotations

import pytest

from dtdoctor.core.model import Status
from tests.api.conftest import by_id, one
from tests.support.fake_dynatrace import Reply, make_token, serve
from tests.support.listeners import closed_port

GOOD = make_token("GOODTOKEN")


def _time_answer(body: str):
    return lambda request: Reply(200, body, content_type="text/plain")


def test_a_time_answer_longer_than_any_timestamp_is_not_dynatrace(run, server_tls):
    with serve(_time_answer("9" * 5000), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace" and result.status is Status.FAIL
    assert "not with a timestamp" in result.summary
    assert "server_time_ms" not in result.details


def test_a_time_answer_with_a_non_ascii_digit_is_not_dynatrace(run, server_tls):
    with serve(_time_answer("17000000000²0"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace"
    assert "server_time_ms" not in result.details


def test_a_plausible_timestamp_is_still_read(run, server_tls):
    with serve(_time_answer("1763800000000"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.ok"
    assert result.details["server_time_ms"] == 1763800000000


DEEP = b"[" * 100_000  # deeper than any JSON parser's stack


def test_a_deeply_nested_error_body_is_not_dynatraces_error_format(run, server_tls):
    with serve(lambda request: Reply(401, DEEP), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.not_dynatrace"
    assert "without Dynatrace's error format" in result.summary


def test_a_deeply_nested_server_error_is_an_http_error(run, server_tls):
    with serve(lambda request: Reply(503, DEEP), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.http_error"


def test_a_deeply_nested_lookup_answer_leaves_the_token_unverified(run, server_tls):
    with serve(lambda request: Reply(200, DEEP), server_tls) as server:
        result = one(run(["token"], token=GOOD, url=server.url()), "token")
    assert result.code == "token.unverified"
    assert "without a token description" in result.summary


def test_a_lookup_answer_whose_scopes_are_a_number_lacks_the_scopes(run, server_tls):
    record = {"id": GOOD.rsplit(".", 1)[0], "name": "odd", "enabled": True, "scopes": 5}
    with serve(lambda request: Reply(200, record), server_tls) as server:
        result = one(run(["token"], token=GOOD, url=server.url()), "token")
    assert result.code == "token.missing_scope"
    assert result.details["scopes"] == []
    assert GOOD.rsplit(".", 1)[1] not in str(result.to_json())


def test_a_deeply_nested_ingest_refusal_is_a_failure(run, server_tls):
    with serve(lambda request: Reply(400, DEEP), server_tls) as server:
        results = run(["event"], token=GOOD, url=server.url(), eec_port=closed_port(), send_test_event=True)
    result = by_id(results, "event")[0]
    assert result.code == "event.failed"
    assert "without Dynatrace's error format" in result.summary


def test_ingest_results_of_another_shape_are_not_a_crash(run, server_tls):
    with serve(lambda request: Reply(201, {"reportCount": 1, "eventIngestResults": 5}), server_tls) as server:
        results = run(["event"], token=GOOD, url=server.url(), eec_port=closed_port(), send_test_event=True)
    result = by_id(results, "event")[0]
    assert result.code == "event.sent"
    assert result.details["correlation_ids"] == []


def _redirect_to(location: str):
    return lambda request: Reply(302, b"", headers={"Location": location}, content_type="text/plain")


def test_a_redirect_to_a_port_beyond_65535_is_reported_not_followed(run, server_tls):
    with serve(_redirect_to("http://127.0.0.1:99999/"), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
        assert len(server.requests) == 1
    assert result.code == "api.redirect" and result.status is Status.FAIL
    hop = result.details["redirects"][-1]
    assert hop["followed"] is False
    assert "cannot be parsed" in hop["reason"] and "ort" in hop["reason"]
    assert "cannot be parsed" in result.summary


@pytest.mark.parametrize("location", ["http:0", "//xn--", "//xn--a", ":https://["])
def test_every_location_httpx_cannot_use_still_ends_as_a_redirect(run, server_tls, location):
    with serve(_redirect_to(location), server_tls) as server:
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
    assert result.code == "api.redirect" and result.status is Status.FAIL, result.summary
    assert result.details["redirects"][-1]["followed"] is False


def test_a_redirect_to_a_broken_ipv6_literal_is_reported_as_a_redirect_never_followed(run, server_tls):
    # httpx builds the redirect request even when not following it; such a Location is set aside and reported.
    with serve(_redirect_to("https://[::1/e/abc"), server_tls) as server:
        results = run(["api", "activegate"], token=GOOD, url=server.url(), activegates=(server.url(),))
        assert all(request.path.endswith(("/api/v1/time", "/rest/health")) for request in server.requests)
    api_result = by_id(results, "api")[0]
    assert api_result.code == "api.redirect" and api_result.status is Status.FAIL, api_result.summary
    hop = api_result.details["redirects"][-1]
    assert hop["followed"] is False and "cannot be parsed" in hop["reason"]
    assert "cannot be parsed" in api_result.summary
    activegate = by_id(results, "activegate")[0]
    assert activegate.code == "activegate.not_running" and "redirect" in activegate.summary


def test_an_activegate_redirecting_to_a_port_beyond_65535_is_not_running(run, server_tls):
    with serve(_redirect_to("http://127.0.0.1:99999/rest/health"), server_tls) as server:
        result = by_id(run(["activegate"], activegates=(server.url(),)), "activegate")[0]
    assert result.code == "activegate.not_running"
    assert "redirect" in result.summary


def test_the_token_check_reports_an_unparseable_redirect_as_unverified(run, server_tls):
    with serve(_redirect_to("http://127.0.0.1:99999/"), server_tls) as server:
        result = one(run(["token"], token=GOOD, url=server.url()), "token")
    assert result.code == "token.unverified"
    assert "redirects" in result.summary


def test_deeply_nested_json_from_the_server_is_cut_before_any_renderer_sees_it(run, server_tls):
    """A lookup answer nested hundreds deep parses; the HTML template and a later merge would not cope."""
    import json

    from dtdoctor.render import render
    from tests.support.factories import report

    nested = "[" * 600 + "]" * 600
    body = b'{"scopes": ["events.ingest"], "enabled": true, "name": ' + nested.encode() + b"}"
    with serve(lambda request: Reply(200, body) if request.path.endswith("/lookup") else Reply(200, b"1700000000000"),
               server_tls) as server:
        result = one(run(["token"], token=GOOD, url=server.url()), "token")
    assert not result.code.startswith("check.")

    def depth(value, level=0):
        if isinstance(value, dict):
            return max([depth(item, level + 1) for item in value.values()] or [level + 1])
        if isinstance(value, (list, tuple)):
            return max([depth(item, level + 1) for item in value] or [level + 1])
        return level

    assert depth(dict(result.details)) <= 13
    whole = report(result)
    assert "<html" in render(whole, "html").lower()
    json.loads(render(whole, "json"))
