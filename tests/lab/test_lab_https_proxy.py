"""squid on ``https_port``: a proxy the client reaches over TLS (``HTTPS_PROXY=https://...``).

squid-openssl listens with a certificate from the lab's CA for tlsproxy.lab.test
on two ports, open and with Basic auth, and on two more with a self-signed
and with an expired certificate. TLS
to the proxy is verified against the system store plus ``--ca-bundle``, and
CONNECT travels inside it; a fault of the proxy's own certificate is named as
the proxy's, never as the destination's.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.lab.conftest import dtdoctor
from tests.lab.services import (
    HOSTS,
    PROXY_PASSWORD,
    PROXY_USER,
    TLS_PROXY_AUTH_PORT,
    TLS_PROXY_EXPIRED_PORT,
    TLS_PROXY_PORT,
    TLS_PROXY_SELF_SIGNED_PORT,
    name,
)

pytestmark = pytest.mark.lab

ENV = f"https://{name('good')}/e/abc12345"
TLS_PROXY = f"https://{name('tlsproxy')}:{TLS_PROXY_PORT}"


def test_an_https_proxy_from_the_environment_carries_every_check(check):
    run = check("--url", ENV, "--activegate", f"https://{name('fw')}:9999", "--only", "proxy,tcp,tls,api",
                env={"HTTPS_PROXY": TLS_PROXY})
    proxy = run.result("proxy")
    assert proxy["code"] == "proxy.ok", run.words("proxy")
    assert f"{TLS_PROXY} (from HTTPS_PROXY) answers" in proxy["summary"]
    assert run.result("tcp", f"{name('good')}:443")["code"] == "tcp.tunnel_open"
    tls = run.result("tls", f"{name('good')}:443")
    assert tls["code"] == "tls.ok", run.words("tls")
    # The destination's own certificate, judged through the tunnel inside the TLS to the proxy.
    assert f"via proxy {TLS_PROXY}" in tls["summary"] and tls["details"]["leaf"]["san"][0] == name("good")
    assert run.result("api")["code"] == "api.ok", run.words("api")
    # squid's default policy holds on its https_port too: 9999 is refused, named at its own endpoint.
    refused = run.result("tcp", f"{name('fw')}:9999")
    assert refused["code"] == "tcp.tunnel_refused", refused["summary"]
    assert "X-Squid-Error: ERR_ACCESS_DENIED" in refused["summary"]


def test_a_self_signed_proxy_certificate_is_named_as_the_proxys(check):
    proxy = f"https://{name('tlsproxy')}:{TLS_PROXY_SELF_SIGNED_PORT}"
    run = check("--url", ENV, "--proxy", proxy, "--only", "proxy,tcp,tls,api")
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert (f"the proxy {name('tlsproxy')}:{TLS_PROXY_SELF_SIGNED_PORT}'s own certificate is not trusted: "
            "self-signed certificate") in found["summary"]
    assert "Pass the CA that issued the proxy's own certificate with --ca-bundle" in found["remediation"]
    # The destination is not blamed: its checks wait for the proxy.
    for check_id in ("tcp", "tls", "api"):
        assert run.result(check_id)["code"] == "prerequisite.failed", run.words(check_id)


def test_a_proxy_certificate_from_a_ca_this_host_does_not_trust_is_named_as_the_proxys(lab):
    # No --ca-bundle: the lab's CA, which issued the proxy's certificate, is trusted nowhere.
    run = dtdoctor("--url", ENV, "--proxy", TLS_PROXY, "--only", "proxy,tcp,tls")
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert f"the proxy {name('tlsproxy')}:{TLS_PROXY_PORT}'s own certificate is not trusted: unable to get local " \
           "issuer certificate" in found["summary"]
    assert run.result("tls")["code"] == "prerequisite.failed"


def test_an_expired_proxy_certificate_is_called_expired_not_untrusted(check):
    proxy = f"https://{name('tlsproxy')}:{TLS_PROXY_EXPIRED_PORT}"
    run = check("--url", ENV, "--proxy", proxy, "--only", "proxy,tcp,tls")
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert f"the proxy {name('tlsproxy')}:{TLS_PROXY_EXPIRED_PORT}'s own certificate has expired: certificate " \
           "has expired" in found["summary"]
    # Its CA is trusted (the lab's, passed with --ca-bundle): advice about trusting a CA would not help.
    assert "--ca-bundle" not in found["remediation"]
    assert "renew" in found["remediation"] and "clock" in found["remediation"]
    assert run.result("tls")["code"] == "prerequisite.failed"


def test_a_proxy_url_with_a_name_the_proxy_certificate_does_not_cover_says_so(check):
    proxy = f"https://{HOSTS['tlsproxy']}:{TLS_PROXY_PORT}"
    run = check("--url", ENV, "--proxy", proxy, "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert f"own certificate is not for the name {HOSTS['tlsproxy']}" in found["summary"]
    assert "Write the proxy URL with a name its certificate covers" in found["remediation"]


def test_an_https_url_for_squids_plain_http_port_is_named_as_the_mistake(check):
    run = check("--url", ENV, "--proxy", f"https://{HOSTS['proxy']}:3128", "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert f"the proxy URL says https://, but {HOSTS['proxy']}:3128 speaks plain HTTP: use " \
           f"http://{HOSTS['proxy']}:3128" in found["summary"]


def tls_authproxy(password: str | None) -> str:
    credentials = "" if password is None else f"{PROXY_USER}:{quote(password, safe='')}@"
    return f"https://{credentials}{name('tlsproxy')}:{TLS_PROXY_AUTH_PORT}"


def test_basic_auth_inside_tls_with_right_credentials(check):
    run = check("--url", ENV, "--proxy", tls_authproxy(PROXY_PASSWORD), "--only", "proxy,tcp,tls,api")
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    assert run.result("tls")["code"] == "tls.ok", run.words("tls")
    assert run.result("api")["code"] == "api.ok", run.words("api")


def test_basic_auth_inside_tls_with_wrong_credentials(check):
    run = check("--url", ENV, "--proxy", tls_authproxy("wrong-password"), "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.auth_required", run.words("proxy")
    assert "rejected the credentials in the proxy URL" in found["summary"]


def test_basic_auth_inside_tls_without_credentials_keeps_the_https_scheme_in_the_advice(check):
    run = check("--url", ENV, "--proxy", tls_authproxy(None), "--only", "proxy,tcp")
    found = run.result("proxy")
    assert found["code"] == "proxy.auth_required", run.words("proxy")
    assert "none were sent" in found["summary"]
    # The advice keeps the scheme the proxy speaks (http:// would not even reach a TLS port), and writes the
    # credentials' place as every output shows a URL's user information: <credentials>.
    where = f"https://<credentials>@{name('tlsproxy')}:{TLS_PROXY_AUTH_PORT} with USER:PASSWORD as <credentials>"
    assert f"--proxy {where}" in found["remediation"], found["remediation"]
    assert "http://<credentials>" not in found["remediation"]
    # Without the proxy check, the endpoint's tunnel verdict gives the same advice.
    alone = check("--url", ENV, "--proxy", tls_authproxy(None), "--only", "tcp")
    tunnel = alone.result("tcp")
    assert tunnel["code"] == "tcp.tunnel_refused" and where in tunnel["remediation"], alone.words("tcp")
