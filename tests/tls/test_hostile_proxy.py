"""A proxy that answers CONNECT with something that only looks like HTTP is named, not a crash."""

from __future__ import annotations

import time

from dtdoctor.checks import proxy
from dtdoctor.core.model import Status
from tests.support.hostile_servers import endless_header, scripted_server
from tests.support.listeners import open_port
from tests.support.tls_servers import TENANT
from tests.tls.helpers import ctx_for, only, run


def test_a_status_with_a_superscript_digit_is_not_an_http_proxy() -> None:
    with open_port(banner="HTTP/1.1 ²00 Connection established\r\n\r\n".encode("latin-1")) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", proxy=f"http://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code != "check.crashed"
    assert result.status is Status.FAIL
    assert "did not answer like an HTTP proxy" in result.summary
    assert "²00" in result.summary


def test_a_status_of_many_digits_is_not_an_http_proxy() -> None:
    with open_port(banner=b"HTTP/1.1 " + b"2" * 5000 + b" OK\r\n\r\n") as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", proxy=f"http://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.status is Status.FAIL
    assert "did not answer like an HTTP proxy" in result.summary


def test_a_proxy_trickling_its_answer_is_a_timeout_within_the_budget() -> None:
    answer = b"HTTP/1.1 200 Connection established\r\n"
    with scripted_server(answer, trickle=endless_header()) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", proxy=f"http://127.0.0.1:{proxy_port}", timeout=0.4)
        started = time.monotonic()
        result = only(run(proxy, ctx=ctx), "proxy")
        took = time.monotonic() - started
    assert result.code == "proxy.failed" and result.status is Status.FAIL, result.summary
    assert "did not answer CONNECT within 0.4 s" in result.summary
    assert took < 1.5
