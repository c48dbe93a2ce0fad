"""429: when to retry, from Retry-After or X-RateLimit-Reset (microseconds) against the server's Date."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from dtdoctor.core.model import Status
from dtdoctor.net import ratelimit
from tests.api.conftest import one
from tests.support.fake_dynatrace import error, make_token, serve

TOKEN = make_token("LIMITED")
# A server clock far from this host's: the advice must follow the server's.
SERVER_NOW = 1_700_000_000.0
SERVER_DATE = formatdate(SERVER_NOW, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "wait", "source"),
    [
        ({"retry-after": "42"}, 42.0, "Retry-After"),
        ({"retry-after": formatdate(SERVER_NOW + 90, usegmt=True), "date": SERVER_DATE}, 90.0, "Retry-After"),
        ({"x-ratelimit-reset": str(int((SERVER_NOW + 30) * 1_000_000)), "date": SERVER_DATE,
          "x-ratelimit-limit": "50", "x-ratelimit-remaining": "0"}, 30.0,
         "X-RateLimit-Reset against the server's Date"),
        # Retry-After wins where both are given: it is what Dynatrace's own clients read.
        ({"retry-after": "5", "x-ratelimit-reset": str(int((SERVER_NOW + 30) * 1_000_000)), "date": SERVER_DATE},
         5.0, "Retry-After"),
    ],
)
def test_when_to_retry(headers, wait, source):
    found = ratelimit.read(headers)
    assert (found.wait_s, found.source) == (wait, source)
    assert f"retry in {round(wait)} s" in found.advice


def test_the_limit_headers_are_kept_as_evidence():
    found = ratelimit.read({"x-ratelimit-limit": "50", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "17",
                            "date": SERVER_DATE})
    assert found.to_json()["rate_limit"] == {"limit": 50, "remaining": 0, "reset_us": 17}


@pytest.mark.parametrize(
    ("headers", "note"),
    [
        ({"x-ratelimit-reset": str(int((SERVER_NOW + 30) * 1_000_000))}, "without the server's Date"),
        # Seconds where microseconds are documented: not trusted as a time.
        ({"x-ratelimit-reset": str(int(SERVER_NOW + 30)), "date": SERVER_DATE}, "not a time in microseconds"),
        ({"retry-after": "soon"}, None),
    ],
)
def test_an_unusable_time_gives_no_false_advice(headers, note):
    found = ratelimit.read(headers)
    assert found.wait_s is None and "no usable time" in found.advice
    assert found.note == note or (note and note in (found.note or ""))


def test_the_api_check_says_when_to_retry_by_the_reset_header(run, server_tls):
    def limited(request):
        reply = error(429, "Too many requests")
        # The fake's own Date header is the server's clock; the reset is 30 s after it.
        reply.headers["X-RateLimit-Reset"] = str(int((time.time() + 30) * 1_000_000))
        reply.headers["X-RateLimit-Limit"] = "50"
        reply.headers["X-RateLimit-Remaining"] = "0"
        return reply

    with serve(limited, server_tls) as server:
        result = one(run(["api"], token=TOKEN, url=server.url()), "api")
    assert result.code == "api.rate_limited" and result.status is Status.WARN
    assert 27 <= result.details["retry_in_s"] <= 31
    assert "X-RateLimit-Reset" in result.summary
    assert result.details["rate_limit"]["remaining"] == 0
