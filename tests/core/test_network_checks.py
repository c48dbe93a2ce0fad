"""DNS and TCP checks against real listeners on 127.0.0.1."""

from __future__ import annotations

import time

from dtdoctor.checks import CHECKS
from dtdoctor.core.model import Status
from dtdoctor.core.runner import run_checks, select_checks
from tests.support.factories import context
from tests.support.listeners import blackhole_port, closed_port, open_port


def run(ctx, only=("config", "dns", "tcp")):
    return {(r.id, r.target): r for r in run_checks(select_checks(CHECKS, only=only), ctx)}


def test_open_port_is_open_with_latency():
    with open_port() as port:
        results = run(context(url=f"https://127.0.0.1:{port}/e/abc"))
    tcp = results[("tcp", f"127.0.0.1:{port}")]
    assert tcp.status is Status.PASS and tcp.code == "tcp.open"
    assert tcp.details["latency_ms"] >= 0
    assert results[("dns", "127.0.0.1")].code == "dns.ok"


def test_closed_port_is_refused_with_firewall_advice():
    port = closed_port()
    tcp = run(context(url=f"https://127.0.0.1:{port}/e/abc"))[("tcp", f"127.0.0.1:{port}")]
    assert tcp.status is Status.FAIL and tcp.code == "tcp.refused"
    assert f"port {port}" in tcp.remediation


def test_black_holed_port_times_out():
    with blackhole_port() as port:
        tcp = run(context(url=f"https://127.0.0.1:{port}/e/abc", timeout=0.3))[("tcp", f"127.0.0.1:{port}")]
    assert tcp.status is Status.FAIL and tcp.code == "tcp.timeout"
    assert "dropped" in tcp.summary and "firewall" in tcp.remediation


def test_black_holed_endpoints_cost_one_timeout_not_one_each():
    from contextlib import ExitStack

    with ExitStack() as stack:
        ports = [stack.enter_context(blackhole_port()) for _ in range(6)]
        ctx = context(url=f"https://127.0.0.1:{ports[0]}/e/abc",
                      activegates=tuple(f"https://127.0.0.1:{p}/e/abc" for p in ports[1:]), timeout=0.5)
        started = time.monotonic()
        results = run(ctx)
        elapsed = time.monotonic() - started
    codes = [r.code for (check_id, _), r in results.items() if check_id == "tcp"]
    assert codes == ["tcp.timeout"] * 6
    assert elapsed < 6 * 0.5 / 2  # far below one timeout per endpoint


def test_unresolvable_name_fails_dns_and_skips_tcp():
    results = run(context(url="https://no-such-host.invalid/e/abc", timeout=2.0))
    dns = results[("dns", "no-such-host.invalid")]
    assert dns.status is Status.FAIL and dns.code in ("dns.failed", "dns.timeout")
    tcp = results[("tcp", "no-such-host.invalid:443")]
    assert tcp.code == "prerequisite.failed" and "dns no-such-host.invalid" in tcp.summary


def test_localhost_resolves_through_the_resolver():
    dns = run(context(url="https://localhost:1/e/abc"))[("dns", "localhost")]
    assert dns.code == "dns.ok"
    assert "127.0.0.1" in dns.details["ipv4"] or "::1" in dns.details["ipv6"]


def test_without_url_remote_checks_skip_with_a_hint():
    results = run(context())
    for key in [("config.url", "-"), ("dns", "-"), ("tcp", "-")]:
        assert results[key].status is Status.SKIP and results[key].code == "url.missing"
        assert "DT_ENVIRONMENT_URL" in results[key].summary + results[key].remediation


def test_invalid_url_is_an_error_and_remote_checks_name_it():
    results = run(context(url="ftp://x"))
    assert results[("config.url", "-")].status is Status.ERROR
    assert results[("tcp", "-")].summary == "skipped: config.url failed (url.invalid)"


def test_tcp_without_the_dns_check_resolves_by_itself():
    with open_port() as port:
        results = run(context(url=f"https://localhost:{port}/e/abc"), only=("tcp",))
    assert results[("tcp", f"localhost:{port}")].code == "tcp.open"


def test_endpoints_behind_a_proxy_are_not_required_to_be_reachable_directly():
    env = {"HTTPS_PROXY": "http://proxy.example.com:3128", "NO_PROXY": "ag.example.com"}
    ctx = context(env, url="https://abc12345.live.dynatrace.com", activegates=("https://ag.example.com:9999",),
                  timeout=0.5)
    results = run(ctx, only=("dns", "tcp"))
    proxied = results[("tcp", "abc12345.live.dynatrace.com:443")]
    # Its tunnel is judged instead (the proxy's host does not resolve here).
    assert proxied.code == "tcp.tunnel_failed" and proxied.status is Status.FAIL
    assert "the proxy http://proxy.example.com:3128 itself failed" in proxied.summary
    assert results[("dns", "abc12345.live.dynatrace.com")].code == "dns.proxied"
    # NO_PROXY sends the ActiveGate direct: it is probed directly (and fails here: no such host).
    assert results[("dns", "ag.example.com")].code in ("dns.failed", "dns.timeout")
