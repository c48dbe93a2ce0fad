"""TLS servers that trickle their handshake or their answer: tls and clock end at their deadline."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest
import trustme

from dtdoctor.checks import clock, tls
from dtdoctor.core.model import Status
from tests.support.hostile_servers import endless_header, scripted_server
from tests.tls.helpers import ctx_for, only, run

TIMEOUT = 0.4
# A TLS handshake record header announcing 16000 bytes, which then come one at a time.
SLOW_RECORD = b"\x16\x03\x03\x3e\x80"


@pytest.fixture()
def server_context(trustme_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    trustme_ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


def test_a_trickled_handshake_is_a_tls_timeout(root_file: Path) -> None:
    with scripted_server(SLOW_RECORD, trickle=b"a" * 4000, read_request=False) as port:
        started = time.monotonic()
        result = only(run(tls, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file),
                                           timeout=TIMEOUT)), "tls")
        took = time.monotonic() - started
    assert result.code == "tls.timeout", result.summary
    assert result.status is Status.FAIL
    assert took < 4 * TIMEOUT


def test_a_trickled_handshake_leaves_the_clock_unknown(root_file: Path) -> None:
    with scripted_server(SLOW_RECORD, trickle=b"a" * 4000, read_request=False) as port:
        started = time.monotonic()
        result = only(run(clock, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file),
                                             timeout=TIMEOUT)), "clock")
        took = time.monotonic() - started
    assert result.code == "clock.unknown" and result.status is Status.SKIP
    # The API client's words (the clock's request is one of its requests): a handshake that did not complete.
    assert "no connection within 0.4 s" in result.summary or "stalled or trickled" in result.summary
    assert took < 4 * TIMEOUT


def test_after_a_trickled_handshake_in_the_tls_check_the_clock_asks_nothing_more(root_file: Path) -> None:
    # The clock probe reads the tls result (never required): where no handshake completed, it makes no request
    # of its own, so the two checks together cost what the tls check costs.
    with scripted_server(SLOW_RECORD, trickle=b"a" * 4000, read_request=False) as port:
        started = time.monotonic()
        results = run(tls, clock, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), timeout=TIMEOUT))
        took = time.monotonic() - started
    found = only(results, "clock")
    assert found.code == "clock.unknown" and found.depends_on == ("tls",), found.summary
    assert found.summary.startswith("could not read the time of 127.0.0.1: no TLS handshake with 127.0.0.1 "
                                    "completed (tls.timeout: see the tls result)")
    # A request of its own would wait a whole timeout (400 ms) for the trickled handshake; reading the tls
    # result takes a few ms, so half a timeout leaves a busy machine room without letting a request pass.
    assert found.duration_ms < 1000 * TIMEOUT / 2
    assert took < 4 * TIMEOUT + 1


def test_trickled_headers_leave_the_clock_unknown(root_file: Path, server_context: ssl.SSLContext) -> None:
    with scripted_server(b"HTTP/1.1 200 OK\r\n", trickle=endless_header(), tls=server_context) as port:
        started = time.monotonic()
        result = only(run(clock, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file),
                                             timeout=TIMEOUT)), "clock")
        took = time.monotonic() - started
    assert result.code == "clock.unknown", result.summary
    assert "stalled or trickled" in result.summary
    assert took < 4 * TIMEOUT
