"""Hostile or broken answers to the API checks: each becomes a precise finding, never a crash or a hang."""

from __future__ import annotations

from dtdoctor.model import Status
from tests.api.conftest import one
from tests.support.fake_dynatrace import Reply, make_token, serve

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
