"""Behind a proxy: the Dynatrace API checks take the proxy route, like TLS does.

The environment's name resolves only at the proxy (as in a network without
outside DNS or direct egress). Direct DNS and TCP are not required there, so
they are not tried, and the whole run passes when the proxy path works.
"""

from __future__ import annotations

import ssl

from dtdoctor.core.model import Status
from tests.api.conftest import one
from tests.support.connect_proxy import ProxyLog, connect_proxy
from tests.support.fake_dynatrace import FakeDynatrace, make_token, serve
from tests.support.tls_servers import TENANT

TOKEN = make_token("PROXIED")


def test_api_and_token_checks_go_through_the_proxy(run, ca):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(TENANT).configure_cert(context)
    fake = FakeDynatrace()
    fake.add(TOKEN, scopes=("events.ingest",))
    log = ProxyLog()
    with serve(fake, tls=context) as server, connect_proxy(log=log) as proxy_port:
        results = run(["dns", "tcp", "proxy", "tls", "api", "token"], token=TOKEN,
                      url=f"https://{TENANT}:{server.port}/e/abc",
                      environ={"HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}"})
    assert one(results, "dns").code == "dns.proxied" and one(results, "dns").status is Status.SKIP
    assert one(results, "tcp").code == "tcp.tunnel_open" and "HTTPS_PROXY" in one(results, "tcp").summary
    assert one(results, "proxy").code == "proxy.ok"
    assert one(results, "tls").code == "tls.ok"
    assert one(results, "api").code == "api.ok"
    assert one(results, "token").code == "token.ok"
    assert "POST /e/abc/api/v2/apiTokens/lookup" in server.paths()
    assert not any(result.status.is_problem for result in results)  # a working proxy path is a passing run
    assert all(target == f"{TENANT}:{server.port}" for target, _ in log.connects)


def test_the_whole_run_passes_through_an_https_proxy(run, ca):
    """TLS to the proxy itself (an https:// proxy URL), then TLS to Dynatrace inside the tunnel."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(TENANT).configure_cert(context)
    proxy_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(proxy_context)
    fake = FakeDynatrace()
    fake.add(TOKEN, scopes=("events.ingest",))
    log = ProxyLog()
    with serve(fake, tls=context) as server, connect_proxy(log=log, tls=proxy_context) as proxy_port:
        results = run(["dns", "tcp", "proxy", "tls", "clock", "api", "token"], token=TOKEN,
                      url=f"https://{TENANT}:{server.port}/e/abc",
                      environ={"HTTPS_PROXY": f"https://127.0.0.1:{proxy_port}"})
    assert [(result.id, result.code) for result in results if result.status.is_problem] == []
    assert one(results, "proxy").code == "proxy.ok"
    assert one(results, "api").code == "api.ok"
    assert one(results, "token").code == "token.ok"
    assert "POST /e/abc/api/v2/apiTokens/lookup" in server.paths()
    assert all(target == f"{TENANT}:{server.port}" for target, _ in log.connects)
    assert len(log.connects) >= 4  # the proxy check, tls, the clock and the API requests all tunnelled
