"""Whose clock a time sample measured: the server's, or a proxy's that answered in its place."""

from __future__ import annotations

import datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

from dtdoctor.checks import clock
from dtdoctor.core.model import Status
from dtdoctor.net import answered_by
from tests.support.tls_servers import Authority, tls_server
from tests.tls.helpers import ctx_for, only, run

NO_NTP_EVIDENCE = Path(__file__).parent / "no-such-root"

# (status, headers, inspected) -> who wrote the answer, and the words that show it.
AUTHORS = [
    pytest.param(503, {"x-squid-error": "ERR_SECURE_CONNECT_FAIL 0", "via": "1.1 proxy (squid/5.7)"}, True,
                 answered_by.PROXY, "X-Squid-Error: ERR_SECURE_CONNECT_FAIL 0", id="squid's error page"),
    # squid's ERR_ACCESS_DENIED page comes with 403 Forbidden (src/errorpage.cc: the ErrorState's status).
    pytest.param(403, {"x-squid-error": "ERR_ACCESS_DENIED 0"}, False, answered_by.PROXY,
                 "X-Squid-Error: ERR_ACCESS_DENIED 0", id="squid's page on a transparent path"),
    pytest.param(502, {"proxy-status": "gw.example; error=connection_refused"}, False, answered_by.PROXY,
                 "Proxy-Status: gw.example; error=connection_refused", id="RFC 9209 error, nothing received"),
    pytest.param(502, {"proxy-status": "origin-lb; received-status=200, gw.example; error=http_response_incomplete; "
                                       "received-status=502"}, True, answered_by.CANNOT_TELL,
                 "HTTP 502 through an inspecting proxy", id="RFC 9209 error with a received status"),
    pytest.param(502, {"proxy-status": 'gw.example; error=destination_ip_unroutable; details="no route, gave up"'},
                 False, answered_by.PROXY, 'Proxy-Status: gw.example; error=destination_ip_unroutable; '
                 'details="no route, gave up"', id="RFC 9209 error whose details hold a comma"),
    pytest.param(407, {}, True, answered_by.PROXY, "HTTP 407 Proxy Authentication Required", id="407"),
    pytest.param(504, {"via": "1.1 proxy (squid/5.7)"}, True, answered_by.CANNOT_TELL,
                 "HTTP 504 through an inspecting proxy", id="gateway error through an inspecting proxy"),
    pytest.param(504, {}, False, answered_by.SERVER, "", id="gateway error on a tunnel the proxy cannot read"),
    pytest.param(200, {"via": "1.1 proxy (squid/5.7)", "x-cache": "MISS from proxy"}, True, answered_by.SERVER, "",
                 id="relayed answer: Via is on every answer squid sends"),
    pytest.param(401, {"proxy-status": "gw.example; received-status=401"}, True, answered_by.SERVER, "",
                 id="RFC 9209 relayed"),
]


@pytest.mark.parametrize(("status", "headers", "inspected", "by", "evidence"), AUTHORS)
def test_who_wrote_the_answer(status, headers, inspected, by, evidence):
    assert answered_by.classify(status, headers, inspected) == answered_by.Author(by, evidence)


def squid_page(offset_s: float):
    """squid's ERR_SECURE_CONNECT_FAIL page as squid 5.7 sends it, dated ``offset_s`` off this host's clock."""

    def answer(request: bytes) -> bytes:
        now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
        body = b"<html><head><title>ERROR: The requested URL could not be retrieved</title></head></html>"
        head = (
            f"HTTP/1.1 503 Service Unavailable\r\nServer: squid/5.7\r\nMime-Version: 1.0\r\n"
            f"Date: {format_datetime(now, usegmt=True)}\r\nContent-Type: text/html;charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nX-Squid-Error: ERR_SECURE_CONNECT_FAIL 0\r\n"
            "Via: 1.1 proxy (squid/5.7)\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body

    return answer


def test_a_proxys_error_page_two_hours_off_blames_no_clock(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=squid_page(7200)) as port:
        ctx = ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), root=NO_NTP_EVIDENCE)
        result = only(run(clock, ctx=ctx), "clock", "127.0.0.1")
    assert (result.code, result.status) == ("clock.unknown", Status.SKIP), result.summary
    assert "the answer came from the proxy in between, not from 127.0.0.1 (X-Squid-Error: ERR_SECURE_CONNECT_FAIL " \
           "0): its Date header is the proxy's clock" in result.summary
    assert result.details["answered_by"] == "proxy"
    assert 7195 < -result.details["proxy_skew_s"] < 7205
    assert "skew_s" not in result.details and "blamed" not in result.details


def cached_answer(date_offset_s: float, age_s: int):
    """A cache's answer as squid sends a hit: the server's Date from when it was stored, and its Age."""

    def answer(request: bytes) -> bytes:
        then = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=date_offset_s)
        return (
            f"HTTP/1.1 404 Not Found\r\nDate: {format_datetime(then, usegmt=True)}\r\nAge: {age_s}\r\n"
            "X-Cache: HIT from proxy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ).encode()

    return answer


@pytest.mark.parametrize(("date_offset_s", "age_s", "code"), [(-3600, 3600, "clock.ok"), (0, 3600, "clock.skew")])
def test_a_cached_answers_date_is_as_old_as_its_age_says(root: Authority, root_file: Path, date_offset_s, age_s, code):
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=cached_answer(date_offset_s, age_s)) as port:
        ctx = ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), root=NO_NTP_EVIDENCE)
        result = only(run(clock, ctx=ctx), "clock", "127.0.0.1")
    assert result.code == code, result.summary
    assert result.details["age_s"] == age_s and result.details["precision_s"] >= 1.5
    assert abs(result.details["skew_s"] + date_offset_s + age_s) < 3
