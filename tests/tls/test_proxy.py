"""The proxy check, and tls through a real CONNECT proxy on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from dtdoctor.checks import proxy, tcp, tls
from dtdoctor.core.model import Status
from tests.support.connect_proxy import ProxyLog, connect_proxy
from tests.support.listeners import closed_port, serving
from tests.support.tls_servers import TENANT, Authority, proxy_tls, tls_server
from tests.tls.helpers import ctx_for, only, run

# A name only the proxy resolves (to 127.0.0.1): loopback names always go direct.
PASSWORD = "S3cretProxyPass"


def test_tls_through_the_proxy_says_which_setting_supplied_it(root: Authority, root_file: Path) -> None:
    leaf = root.issue(TENANT)
    log = ProxyLog()
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(log=log) as proxy_port:
        environ = {"HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}", "HTTP_PROXY": "http://other:1"}
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), environ=environ)
        results = run(proxy, tls, ctx=ctx)
    proxy_result = only(results, "proxy", f"127.0.0.1:{proxy_port}")
    assert proxy_result.code == "proxy.ok"
    assert proxy_result.details["source"] == "HTTPS_PROXY"
    assert proxy_result.details["ignored_settings"] == ["HTTP_PROXY"]
    tls_result = only(results, "tls", f"{TENANT}:{port}")
    assert tls_result.code == "tls.ok"
    assert tls_result.details["route"]["via"] == "proxy"
    assert tls_result.details["route"]["source"] == "HTTPS_PROXY"
    assert f"via proxy http://127.0.0.1:{proxy_port}" in tls_result.summary
    assert any(target == f"{TENANT}:{port}" for target, _ in log.connects)


def test_certificate_problems_are_classified_through_the_tunnel(root: Authority, root_file: Path) -> None:
    leaf = root.issue("someone-else.example.com")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy() as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), proxy=f"http://127.0.0.1:{proxy_port}")
        result = only(run(tls, ctx=ctx), "tls")
    assert result.code == "tls.hostname_mismatch"
    assert result.details["route"]["source"] == "--proxy"


def test_proxy_wanting_credentials_is_auth_required(root: Authority, root_file: Path) -> None:
    leaf = root.issue(TENANT)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(("user", PASSWORD)) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), proxy=f"http://127.0.0.1:{proxy_port}")
        results = run(proxy, tcp, tls, ctx=ctx)
    assert only(results, "proxy").code == "proxy.auth_required"
    assert "none were sent" in only(results, "proxy").summary
    tls_result = only(results, "tls")
    assert tls_result.code == "prerequisite.failed" and tls_result.status is Status.SKIP
    # The place of the credentials in the proxy's own URL, written as every output shows user information.
    assert (f"--proxy http://<credentials>@127.0.0.1:{proxy_port} with USER:PASSWORD as <credentials>"
            in only(results, "proxy").remediation)


def test_tls_alone_reports_the_proxy_failure_when_the_proxy_check_is_not_selected(root: Authority) -> None:
    leaf = root.issue(TENANT)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(("user", PASSWORD)) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", proxy=f"http://127.0.0.1:{proxy_port}")
        result = only(run(tls, ctx=ctx), "tls")
    assert result.code == "proxy.auth_required"


def test_credentials_work_and_never_show(root: Authority, root_file: Path) -> None:
    leaf = root.issue(TENANT)
    log = ProxyLog()
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, \
            connect_proxy(("user", PASSWORD), log=log) as proxy_port:
        url = f"http://user:{PASSWORD}@127.0.0.1:{proxy_port}"
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), environ={"https_proxy": url})
        results = run(proxy, tls, ctx=ctx)
    assert only(results, "proxy").code == "proxy.ok"
    assert only(results, "tls").code == "tls.ok"
    assert all(auth is not None for _, auth in log.connects)
    text = json.dumps([r.to_json() for r in results])
    assert PASSWORD not in text
    assert "<credentials>@127.0.0.1" in text


def test_proxy_policy_refusal_is_the_tunnels_verdict_not_the_proxys(root: Authority) -> None:
    with connect_proxy(refuse=(TENANT,)) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", proxy=f"http://127.0.0.1:{proxy_port}")
        results = run(proxy, tcp, ctx=ctx)
    assert only(results, "proxy").code == "proxy.ok"  # the proxy itself works
    tunnel = only(results, "tcp")
    assert tunnel.code == "tcp.tunnel_refused", tunnel.summary
    assert tunnel.details["status"] == 403
    assert "its rules forbid this destination" in tunnel.summary
    assert "allow CONNECT from this host" in tunnel.remediation


def test_unreachable_proxy_is_proxy_failed() -> None:
    port = closed_port()
    ctx = ctx_for(f"https://{TENANT}:443", proxy=f"http://127.0.0.1:{port}", timeout=0.5)
    result = only(run(proxy, ctx=ctx), "proxy", f"127.0.0.1:{port}")
    assert result.code == "proxy.failed"
    assert "cannot connect to the proxy" in result.summary


def test_unsupported_proxy_scheme_is_named() -> None:
    ctx = ctx_for(f"https://{TENANT}:443", proxy="socks5://127.0.0.1:1080")
    result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.failed"
    assert "socks5" in result.summary


def test_no_proxy_explains_settings_that_do_not_apply() -> None:
    environ = {"HTTP_PROXY": "http://proxy.corp:3128", "http_proxy": "http://proxy.corp:3128"}
    result = only(run(proxy, ctx=ctx_for(f"https://{TENANT}:443", environ=environ)), "proxy")
    assert result.code == "proxy.none" and result.status is Status.SKIP
    assert "HTTPS_PROXY" in result.summary
    assert result.details["ignored_settings"] == ["HTTP_PROXY", "http_proxy"]


def test_no_proxy_match_is_named() -> None:
    environ = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".dtdoctor.test"}
    result = only(run(proxy, ctx=ctx_for(f"https://{TENANT}:443", environ=environ)), "proxy")
    assert result.code == "proxy.none"
    assert result.details["no_proxy_matches"] == {f"{TENANT}:443": "NO_PROXY=.dtdoctor.test"}
    assert "NO_PROXY=.dtdoctor.test" in result.summary


def test_clock_is_read_through_the_tunnel(root: Authority, root_file: Path) -> None:
    from dtdoctor.checks import clock

    leaf = root.issue(TENANT)
    log = ProxyLog()
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(log=log) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), proxy=f"http://127.0.0.1:{proxy_port}")
        result = only(run(clock, ctx=ctx), "clock", TENANT)
    assert result.code == "clock.ok"
    assert result.details["verified_connection"] is True
    assert result.details["route"]["via"] == "proxy"
    assert log.connects == [(f"{TENANT}:{port}", None)]


def test_an_https_proxy_is_spoken_to_over_tls_and_tunnels(root: Authority, root_file: Path) -> None:
    leaf = root.issue(TENANT)
    log = ProxyLog()
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(log=log, tls=proxy_tls(root)) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file),
                      environ={"HTTPS_PROXY": f"https://127.0.0.1:{proxy_port}"})
        results = run(proxy, tls, ctx=ctx)
    assert only(results, "proxy").code == "proxy.ok", only(results, "proxy").summary
    tls_result = only(results, "tls")
    assert tls_result.code == "tls.ok", tls_result.summary
    assert f"via proxy https://127.0.0.1:{proxy_port}" in tls_result.summary
    # The server's own certificate was judged through the tunnel, inside the TLS to the proxy.
    assert tls_result.details["leaf"]["san"] == [TENANT]
    assert log.connects and all(target == f"{TENANT}:{port}" for target, _ in log.connects)


def test_an_https_proxy_whose_certificate_is_untrusted_says_so(root: Authority, root_file: Path) -> None:
    stranger = Authority("dtdoctor Test Proxy CA")  # not in the bundle
    leaf = root.issue(TENANT)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(tls=proxy_tls(stranger)) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), proxy=f"https://127.0.0.1:{proxy_port}")
        results = run(proxy, tcp, tls, ctx=ctx)
    result = only(results, "proxy")
    assert result.code == "proxy.failed" and result.status is Status.FAIL
    assert f"the proxy 127.0.0.1:{proxy_port}'s own certificate is not trusted" in result.summary
    assert "--ca-bundle" in result.remediation
    assert only(results, "tls").code == "prerequisite.failed"


def test_an_https_url_for_a_plain_http_proxy_is_named_as_the_mistake_it_is(root: Authority, root_file: Path) -> None:
    leaf = root.issue(TENANT)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy() as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), timeout=0.5,
                      environ={"https_proxy": f"https://127.0.0.1:{proxy_port}"})
        results = run(proxy, tls, ctx=ctx)
    result = only(results, "proxy")
    assert result.code == "proxy.failed"
    assert f"speaks plain HTTP: use http://127.0.0.1:{proxy_port}" in result.summary
    assert "Write the proxy URL with http://" in result.remediation
    # Without the proxy check, tls names the same mistake itself.
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy() as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), timeout=0.5,
                      proxy=f"https://127.0.0.1:{proxy_port}")
        alone = only(run(tls, ctx=ctx), "tls")
    assert alone.code == "proxy.failed" and "speaks plain HTTP" in alone.summary


def test_an_https_proxy_port_that_stays_silent_is_a_tls_failure_not_a_hang(root_file: Path) -> None:
    from tests.support.tls_servers import silent_port

    with silent_port() as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", ca_bundle=str(root_file), timeout=0.4,
                      proxy=f"https://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.failed"
    assert f"no TLS handshake with the proxy 127.0.0.1:{proxy_port}: no answer within 0.4 s" in result.summary


def tls_port_like_nginx(alert: bool):
    """A TLS port that answers a ClientHello with a fatal alert (or with silence) and plain HTTP with nginx's 400."""

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                first = conn.recv(1, socket.MSG_PEEK)
                if first == b"\x16":
                    conn.recv(65536)
                    if alert:
                        conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # a fatal handshake_failure alert
                    else:
                        time.sleep(1.5)
                    return
                conn.recv(65536)
                body = b"<html><center>The plain HTTP request was sent to HTTPS port</center></html>"
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except OSError:
                pass

    return serving(handle)


def test_a_tls_proxy_that_fails_the_handshake_is_not_called_plain_http() -> None:
    with tls_port_like_nginx(alert=True) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", timeout=1.0, proxy=f"https://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.failed"
    assert "plain HTTP" not in result.summary
    assert "no TLS handshake with the proxy" in result.summary and "ALERT" in result.summary.upper()


def test_a_tls_port_that_says_so_in_plain_http_is_not_called_plain_http() -> None:
    with tls_port_like_nginx(alert=False) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", timeout=0.5, proxy=f"https://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.failed"
    assert "plain HTTP" not in result.summary
    assert "no answer within 0.5 s" in result.summary


def test_a_silent_https_proxy_fails_once_for_all_its_endpoints_within_the_budget(root_file: Path) -> None:
    from tests.support.tls_servers import silent_port

    activegates = tuple(f"https://ag{index}.dtdoctor.test:9999" for index in range(4))
    with silent_port() as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:443", timeout=0.5, activegates=activegates,
                      proxy=f"https://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.failed", result.summary  # not check.deadline
    tunnels = result.details["tunnels"]
    assert len(tunnels) == 5  # tried at once, so five silent handshakes cost one timeout
    assert all(tunnel["answer"].startswith("no TLS handshake with the proxy") for tunnel in tunnels)


def test_an_https_proxy_certificate_for_another_name_says_so(root: Authority, root_file: Path) -> None:
    with connect_proxy(tls=proxy_tls(root, "localhost")) as proxy_port:  # the URL below uses 127.0.0.1
        ctx = ctx_for(f"https://{TENANT}:443", ca_bundle=str(root_file), proxy=f"https://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.failed"
    assert "own certificate is not for the name 127.0.0.1" in result.summary
    assert "name its certificate covers" in result.remediation


def test_failed_tunnels_through_an_https_proxy_leave_no_connection_open(root: Authority, root_file: Path) -> None:
    from dtdoctor.net.tunnel import TunnelError, open_tunnel, parse_proxy

    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    with connect_proxy(("user", PASSWORD), tls=proxy_tls(root)) as proxy_port:
        address = parse_proxy(f"https://127.0.0.1:{proxy_port}")
        before = open_descriptors()
        errors = []
        for _ in range(10):
            with pytest.raises(TunnelError) as caught:
                open_tunnel(address, TENANT, 443, 2.0, root_file)
            errors.append(caught.value)  # held, as a run's results hold them
        assert all(error.status == 407 for error in errors)
        # The proxy runs in this process too: give its threads a moment to close their ends.
        settle = time.monotonic() + 2.0
        while open_descriptors() > before + 2 and time.monotonic() < settle:
            time.sleep(0.05)
        assert open_descriptors() <= before + 2  # ten leaked connections would be ten or more
