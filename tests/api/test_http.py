"""The HTTP layer's safety rules, directly: where the token goes, redirects, proxies, caps."""

from __future__ import annotations

import time

import pytest

from dtdoctor.net import http
from tests.support import factories
from tests.support.fake_dynatrace import Recorded, Reply, make_token, serve
from tests.support.listeners import closed_port

TOKEN = make_token("HTTPLAYER")


def ctx_for(url: str | None, ca_bundle: str | None = None, environ: dict[str, str] | None = None, **options):
    env = {"DT_API_TOKEN": TOKEN, **(environ or {})}
    return factories.context(env, url=url, ca_bundle=ca_bundle, timeout=1.0, **options)


def ok(request: Recorded) -> Reply:
    return Reply(200, "1700000000000", content_type="text/plain")


def test_the_token_goes_only_to_a_configured_endpoint(server_tls, ca_bundle):
    with serve(ok, server_tls) as configured, serve(ok, server_tls) as other:
        ctx = ctx_for(configured.url(), ca_bundle)
        sent = http.fetch(ctx, "GET", configured.url() + "/api/v1/time", authenticate=True)
        withheld = http.fetch(ctx, "GET", other.url() + "/api/v1/time", authenticate=True)
        assert configured.requests[0].authorization == f"Api-Token {TOKEN}"
        assert other.requests[0].authorization is None
    assert sent.token_sent is True and withheld.token_sent is False


def test_the_token_is_not_sent_unless_asked(server_tls, ca_bundle):
    with serve(ok, server_tls) as server:
        http.fetch(ctx_for(server.url(), ca_bundle), "GET", server.url() + "/rest/health")
        assert server.requests[0].authorization is None


def test_an_activegate_url_is_a_configured_endpoint_too(server_tls, ca_bundle):
    with serve(ok, server_tls) as gate:
        ctx = ctx_for(None, ca_bundle, activegates=(gate.url(),))
        http.fetch(ctx, "GET", gate.url() + "/api/v1/time", authenticate=True)
        assert gate.requests[0].authorization == f"Api-Token {TOKEN}"


def test_same_origin_redirect_loops_stop(server_tls, ca_bundle):
    with serve(lambda request: Reply(302, b"", {"Location": "/again"}), server_tls) as server:
        response = http.fetch(ctx_for(server.url(), ca_bundle), "GET", server.url() + "/start", authenticate=True)
        assert len(server.requests) == http.MAX_REDIRECTS + 1
    assert response.is_redirect
    assert [hop.followed for hop in response.hops] == [True] * http.MAX_REDIRECTS + [False]


def test_a_post_is_never_repeated_on_a_redirect(server_tls, ca_bundle):
    with serve(lambda request: Reply(307, b"", {"Location": "/elsewhere"}), server_tls) as server:
        response = http.fetch(ctx_for(server.url(), ca_bundle), "POST", server.url() + "/x", json_body={"a": 1})
        assert len(server.requests) == 1
    assert response.status == 307 and response.hops[0].followed is False


def test_a_redirect_from_https_to_http_on_the_same_host_is_not_followed(server_tls, ca_bundle):
    with serve(ok) as plain:
        target = f"http://127.0.0.1:{plain.port}/e/abc/api/v1/time"
        with serve(lambda request: Reply(301, b"", {"Location": target}), server_tls) as server:
            response = http.fetch(ctx_for(server.url(), ca_bundle), "GET", server.url() + "/api/v1/time",
                                  authenticate=True)
        assert plain.requests == []
    assert response.hops[0].followed is False


def test_loopback_is_always_direct_even_with_a_proxy_configured(server_tls, ca_bundle):
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    with serve(ok, server_tls) as server:
        ctx = ctx_for(server.url(), ca_bundle, environ={"HTTPS_PROXY": dead_proxy}, proxy=dead_proxy)
        response = http.fetch(ctx, "GET", server.url() + "/api/v1/time")
    assert response.status == 200


def test_a_refused_connection_is_a_failure_not_an_exception_of_httpx(ca_bundle):
    url = f"https://127.0.0.1:{closed_port()}/e/abc"
    with pytest.raises(http.HttpFailure) as caught:
        http.fetch(ctx_for(url, ca_bundle), "GET", url + "/api/v1/time")
    assert caught.value.kind == http.REFUSED


def test_a_connection_closed_mid_body_is_a_protocol_failure(server_tls, ca_bundle):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer_half() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n1700")
        conn.close()

    thread = threading.Thread(target=answer_half, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/e/abc"
    try:
        with pytest.raises(http.HttpFailure) as caught:
            http.fetch(ctx_for(url), "GET", url + "/api/v1/time")
    finally:
        thread.join(2)
        listener.close()
    assert caught.value.kind == http.PROTOCOL
    assert "before the answer was complete" in caught.value.message


def test_a_trickling_body_is_cut_at_the_deadline(server_tls, ca_bundle):
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
            while not stop.is_set():
                conn.sendall(b"1")
                time.sleep(0.05)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/e/abc"
    started = time.monotonic()
    try:
        with pytest.raises(http.HttpFailure) as caught:
            http.fetch(factories.context({}, url=url, timeout=0.3), "GET", url + "/api/v1/time")
    finally:
        stop.set()
        thread.join(2)
        listener.close()
    assert caught.value.kind == http.STALLED
    assert time.monotonic() - started < 1.5


def test_locations_are_shown_without_query_or_credentials():
    assert http.safe_location("https://user:pw@example.com/a?token=x#f") == "https://<credentials>@example.com/a"


def test_an_unusable_url_or_proxy_is_classified_not_raised():
    # Classified directly: a real attempt would need a non-loopback proxy host.
    assert http._classify(ValueError("bad proxy URL"), False, 1.0)[0] == http.INVALID


def test_an_untrusted_certificate_is_named_as_rejected_and_verify_false_reads_the_answer_without_the_token(
    server_tls,
):
    # No --ca-bundle: the test CA is trusted nowhere, so the handshake works and the verification fails.
    with serve(ok, server_tls) as server:
        ctx = ctx_for(server.url())
        with pytest.raises(http.HttpFailure) as refused:
            http.fetch(ctx, "GET", server.url() + "/api/v1/time", authenticate=True)
        read = http.fetch(ctx, "GET", server.url() + "/api/v1/time", authenticate=True, verify=False)
        assert [request.authorization for request in server.requests] == [None]
    assert refused.value.kind == http.TLS and refused.value.certificate_rejected
    assert read.status == 200 and read.token_sent is False


def test_a_refused_connection_is_no_rejected_certificate():
    with pytest.raises(http.HttpFailure) as refused:
        http.fetch(ctx_for(None), "GET", f"https://127.0.0.1:{closed_port()}/x")
    assert refused.value.kind == http.REFUSED and not refused.value.certificate_rejected


def test_the_answer_says_when_its_request_went_and_its_headers_came(server_tls, ca_bundle):
    with serve(ok, server_tls) as server:
        before = time.time()
        response = http.fetch(ctx_for(server.url(), ca_bundle), "GET", server.url() + "/api/v1/time")
        after = time.time()
    assert before <= response.sent_at <= response.answered_at <= after


def test_a_utf8_location_path_is_requested_as_its_utf8_bytes_escaped(server_tls, ca_bundle):
    sent = "/e/a b\u00e9c".encode().decode("latin-1")  # the raw UTF-8 bytes, as http.server writes a str
    answers = iter([Reply(302, b"", {"Location": sent}), ok(None)])  # type: ignore[arg-type]
    with serve(lambda request: next(answers), server_tls) as server:
        response = http.fetch(ctx_for(server.url(), ca_bundle), "GET", server.url() + "/start")
        paths = [request.path for request in server.requests]
    assert response.status == 200
    assert paths[1:] == ["/e/a%20b%C3%A9c"]  # not "%C3%83%C2%A9", the escape of its latin-1 reading
