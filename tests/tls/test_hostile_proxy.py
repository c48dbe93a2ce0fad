"""A proxy that answers CONNECT with something that only looks like HTTP is named, not a crash."""

from __future__ import annotations

from dtdoctor.checks import proxy
from dtdoctor.model import Status
from tests.support.listeners import open_port
from tests.tls.helpers import ctx_for, only, run

TENANT = "tenant.dtdoctor.test"


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
