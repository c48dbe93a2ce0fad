"""A proxy slow at every stage of its tunnel: the tunnel costs one timeout in all, not one per stage.

The stages are a real ``https://`` CONNECT proxy's own (tests/support/connect_proxy.py): its TLS
handshake, its answer to CONNECT, the first bytes through the tunnel. Each stage alone takes less
than the timeout; together they take more.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from dtdoctor.checks import api, proxy, tcp
from dtdoctor.core.model import Status
from dtdoctor.net.tunnel import NO_ANSWER, TIMEOUT, TunnelError, diagnosis_s, open_tunnel, parse_proxy
from tests.support.connect_proxy import connect_proxy
from tests.support.listeners import open_port
from tests.support.tls_servers import TENANT, Authority, proxy_tls, silent_port, tls_server
from tests.tls.helpers import ctx_for, only, run

SLOW = {"tls": 0.35, "connect": 0.35}  # 0.7 s to open, each stage within 0.5 s


def test_a_tunnel_slow_at_each_stage_gets_one_timeout_in_all(root: Authority, root_file: Path) -> None:
    with open_port() as port, connect_proxy(tls=proxy_tls(root), delays=SLOW) as proxy_port:
        started = time.monotonic()
        with pytest.raises(TunnelError) as caught:
            open_tunnel(parse_proxy(f"https://127.0.0.1:{proxy_port}"), TENANT, port, 0.5, root_file)
        took = time.monotonic() - started
    assert (caught.value.stage, caught.value.reason) == (TIMEOUT, NO_ANSWER)
    # The CONNECT had what the TLS handshake left of the one timeout, and the words say so.
    assert re.search(r"did not answer CONNECT within 0\.5 s \(the tunnel's limit; connecting to the proxy took "
                     r"0\.[34] s of it\)$", caught.value.message), caught.value.message
    assert took < 0.5 + 0.2


def test_the_same_proxy_with_a_timeout_long_enough_opens_the_tunnel(root: Authority, root_file: Path) -> None:
    with open_port() as port, connect_proxy(tls=proxy_tls(root), delays=SLOW) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), timeout=1.5,
                      proxy=f"https://127.0.0.1:{proxy_port}")
        result = only(run(proxy, ctx=ctx), "proxy")
    assert result.code == "proxy.ok", result.summary


@pytest.mark.parametrize("families", [(proxy, tcp), (tcp,)], ids=["with the proxy check", "tcp alone"])
def test_a_slow_proxy_fails_within_each_probes_budget(root: Authority, root_file: Path, families) -> None:
    timeout = 0.5
    with open_port() as port, connect_proxy(tls=proxy_tls(root), delays=SLOW) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), timeout=timeout,
                      proxy=f"https://127.0.0.1:{proxy_port}")
        results = run(*families, ctx=ctx)
    for result in results:
        assert result.code != "check.deadline", result.summary
    if proxy in families:
        assert only(results, "proxy").code == "proxy.failed"
        assert only(results, "tcp").code == "prerequisite.failed"
        # TCP to the proxy, then the tunnels: within the declared budget (3), without the runner's grace.
        assert only(results, "proxy").duration_ms < 3 * timeout * 1000
    else:
        found = only(results, "tcp")
        assert found.code == "tcp.tunnel_failed" and found.status is Status.FAIL, found.summary
        # Reaching the proxy took most of the time: its silence after CONNECT may be its own slowness.
        assert "the proxy itself is slow, or it is still trying to reach the destination" in found.summary
        assert "dtdoctor cannot tell which (a longer --timeout can)" in found.summary
        assert found.duration_ms < 2 * timeout * 1000  # the tunnel probe's budget


def test_a_request_through_a_slow_proxy_keeps_its_deadline(root: Authority, root_file: Path) -> None:
    # api alone opens its own connection through the proxy (no tls result to ride on).
    leaf = root.issue(TENANT)
    timeout = 0.5
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, \
            connect_proxy(tls=proxy_tls(root), delays={**SLOW, "tunnel": 0.35}) as proxy_port:
        ctx = ctx_for(f"https://{TENANT}:{port}", ca_bundle=str(root_file), timeout=timeout,
                      proxy=f"https://127.0.0.1:{proxy_port}")
        found = only(run(api, ctx=ctx), "api")
    assert found.status is Status.FAIL and "CONNECT" in found.summary, (found.code, found.summary)
    assert found.duration_ms < 2 * timeout * 1000  # the exchange's deadline of two timeouts, tunnel included


def test_a_silent_https_proxy_costs_one_timeout_and_the_plain_http_question(root_file: Path) -> None:
    timeout = 0.5
    with silent_port() as proxy_port:
        started = time.monotonic()
        with pytest.raises(TunnelError) as caught:
            open_tunnel(parse_proxy(f"https://127.0.0.1:{proxy_port}"), TENANT, 443, timeout, root_file)
        took = time.monotonic() - started
    assert "no TLS handshake with the proxy" in caught.value.message
    assert took < timeout + diagnosis_s(timeout) + 0.2
