"""Servers that accept the request and then stall or trickle: every fetch ends at its deadline.

Socket timeouts apply per read, so these need the overall deadline: the run
must end with the check's own timeout code well within the runner's limit
(budget x timeout + 1 s), never as ``check.deadline``.
"""

from __future__ import annotations

import time

import pytest

from dtdoctor.core.model import Status
from dtdoctor.net import http
from tests.api.conftest import one
from tests.support import factories
from tests.support.fake_dynatrace import make_token
from tests.support.hostile_servers import endless_header, scripted_server

GOOD = make_token("GOODTOKEN")
TIMEOUT = 0.4
RUNNER_LIMIT = http.BUDGET * TIMEOUT + 1.0
STATUS_LINE = b"HTTP/1.1 200 OK\r\n"


def timed(run, checks, port, scheme="http", **options):
    url = f"{scheme}://127.0.0.1:{port}/e/abc"
    started = time.monotonic()
    results = run(checks, token=GOOD, url=url, timeout=TIMEOUT, **options)
    return results, time.monotonic() - started


def test_a_server_that_accepts_and_says_nothing_is_a_timeout(run):
    with scripted_server(b"") as port:
        results, took = timed(run, ["api"], port)
    result = one(results, "api")
    assert result.code == "api.timeout" and result.status is Status.FAIL
    assert result.details["failure"] == http.TIMEOUT
    assert took < RUNNER_LIMIT - 0.5


def test_headers_trickled_byte_by_byte_are_a_timeout_at_the_deadline(run):
    with scripted_server(STATUS_LINE, trickle=endless_header()) as port:
        results, took = timed(run, ["api"], port)
    result = one(results, "api")
    assert result.code == "api.timeout", result.summary
    assert result.details["failure"] == http.TIMEOUT
    assert "trickled" in result.summary
    assert took < RUNNER_LIMIT - 0.5


def test_headers_trickled_over_tls_are_a_timeout_at_the_deadline(run, server_tls):
    with scripted_server(STATUS_LINE, trickle=endless_header(), tls=server_tls) as port:
        results, took = timed(run, ["api"], port, scheme="https")
    result = one(results, "api")
    assert result.code == "api.timeout", result.summary
    assert took < RUNNER_LIMIT - 0.5


@pytest.mark.parametrize(
    ("check", "code"),
    [("token", "token.unverified"), ("activegate", "activegate.unreachable")],
)
def test_other_api_checks_end_a_header_trickle_with_their_own_code(run, check, code):
    with scripted_server(STATUS_LINE, trickle=endless_header()) as port:
        url = f"http://127.0.0.1:{port}/e/abc"
        started = time.monotonic()
        results = run([check], token=GOOD, url=url, activegates=(url,), timeout=TIMEOUT)
        took = time.monotonic() - started
    result = one(results, check)
    assert result.code == code, result.summary
    assert "trickled" in result.summary
    assert took < 2 * RUNNER_LIMIT


def test_the_event_check_ends_a_header_trickle_as_a_failure(run):
    with scripted_server(STATUS_LINE, trickle=endless_header()) as port:
        url = f"http://127.0.0.1:{port}/e/abc"
        results = run(["event"], token=GOOD, url=url, timeout=TIMEOUT, send_test_event=True, eec_port=port)
    assert {result.code for result in results} == {"event.failed"}


def test_fetch_itself_ends_a_trickle_within_two_timeouts():
    with scripted_server(STATUS_LINE, trickle=endless_header()) as port:
        url = f"http://127.0.0.1:{port}/e/abc"
        started = time.monotonic()
        with pytest.raises(http.HttpFailure) as caught:
            http.fetch(factories.context({}, url=url, timeout=0.3), "GET", url + "/api/v1/time")
        took = time.monotonic() - started
    assert caught.value.kind == http.TIMEOUT
    assert 0.5 < took < 1.5


def test_a_quick_answer_is_not_cut_by_the_watchdog():
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n1763800000000"
    with scripted_server(answer) as port:
        url = f"http://127.0.0.1:{port}/e/abc"
        response = http.fetch(factories.context({}, url=url, timeout=0.3), "GET", url + "/api/v1/time")
        time.sleep(0.7)  # past the deadline: the disarmed watchdog must not fire on anything
    assert response.status == 200 and response.text == "1763800000000"


def test_a_body_without_length_cut_at_the_deadline_is_stalled_not_complete(run):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    with scripted_server(head, trickle=b"1" * 4000, trickle_interval=0.3) as port:
        results, took = timed(run, ["api"], port)
    result = one(results, "api")
    assert result.code == "api.timeout", result.summary
    assert result.details["failure"] == http.STALLED
    assert took < RUNNER_LIMIT - 0.5


def test_an_answer_whose_length_was_read_when_the_deadline_passed_is_the_answer(monkeypatch):
    """The deadline may pass between the answer's last byte and the end of the exchange: a body whose length
    said where it ends was complete, so it is the answer, not a stall."""
    from dtdoctor.net import deadline

    class LastMoment(deadline.Watchdog):
        """The timer winning the race at the last moment: it fires once the work is done, before the disarm."""

        def disarm(self) -> None:
            self._fire()
            super().disarm()

    monkeypatch.setattr(http, "Watchdog", LastMoment)
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n1763800000000"
    with scripted_server(answer) as port:
        url = f"http://127.0.0.1:{port}/e/abc"
        response = http.fetch(factories.context({}, url=url, timeout=2.0), "GET", url + "/api/v1/time", keep=True)
    assert response.status == 200 and response.text == "1763800000000"
    assert response.connection is None  # the timer shut the connection down: nothing left to reuse
