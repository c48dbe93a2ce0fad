"""Debian's squid with its default configuration, in front of the lab's servers.

Each endpoint's tunnel is judged on its own (at the endpoint's tcp result),
from what squid says about its failure (X-Squid-Error and the status).
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.lab.services import (
    BUMP_CA_NAME,
    BUMPED_ORIGINS,
    HOSTS,
    PROXY_PASSWORD,
    PROXY_USER,
    name,
)

pytestmark = pytest.mark.lab

PROXY = f"http://{HOSTS['proxy']}:3128"
ENV = f"https://{name('good')}/e/abc12345"


def test_default_squid_tunnels_443(check):
    run = check("--url", ENV, "--proxy", PROXY, "--only", "proxy,tcp,tls")
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    assert run.result("tcp")["code"] == "tcp.tunnel_open", run.words("tcp")
    assert run.result("tls")["code"] == "tls.ok", run.words("tls")


def test_a_refused_9999_fails_only_the_9999_endpoint(check):
    run = check("--url", ENV, "--activegate", f"https://{name('fw')}:9999", "--proxy", PROXY,
                "--only", "proxy,tcp,tls")
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    refused = run.result("tcp", f"{name('fw')}:9999")
    assert refused["code"] == "tcp.tunnel_refused", refused["summary"]
    assert "X-Squid-Error: ERR_ACCESS_DENIED" in refused["summary"]
    assert "squid's default allows CONNECT to port 443 only, not 9999" in refused["summary"]
    assert "SSL_ports" in refused["remediation"]
    # The environment on 443 goes on through its working tunnel.
    assert run.result("tcp", f"{name('good')}:443")["code"] == "tcp.tunnel_open"
    assert run.result("tls", f"{name('good')}:443")["code"] == "tls.ok"
    assert run.result("tls", f"{name('fw')}:9999")["code"] == "prerequisite.failed"


def test_squid_that_cannot_connect_says_so(check):
    run = check("--url", f"https://{name('dns')}/e/abc12345", "--proxy", PROXY, "--only", "proxy,tcp")
    found = run.result("tcp")
    assert found["code"] == "tcp.tunnel_failed", found["summary"]
    assert f"proxy {PROXY} cannot connect to {name('dns')}:443" in found["summary"]
    assert "ERR_CONNECT_FAIL 111 (Connection refused)" in found["summary"]
    assert "allow CONNECT" not in found["remediation"]


# squid 5.7 answers both with the same 500, X-Squid-Error: ERR_CANNOT_FORWARD 0 and the same page (its template
# has no DNS detail; squid's bug 5294 made a failed lookup ERR_CANNOT_FORWARD): the verdict says it cannot tell.
CANNOT_FORWARD = [
    pytest.param("proxy", "nope", id="unresolvable name"),
    pytest.param("proxy", "nodata", id="name without addresses"),
    pytest.param("parentproxy", "good", id="resolvable name, parent proxy down"),
]


@pytest.mark.parametrize(("squid", "label"), CANNOT_FORWARD)
def test_squid_that_cannot_forward_says_it_cannot_tell_resolving_from_forwarding(check, squid, label):
    proxy = f"http://{HOSTS[squid]}:3128"
    run = check("--url", f"https://{name(label)}/e/abc12345", "--proxy", proxy, "--only", "proxy,tcp")
    found = run.result("tcp")
    assert found["code"] == "tcp.tunnel_failed", found["summary"]
    assert f"proxy {proxy} could not forward to {name(label)}:443 (500, X-Squid-Error: ERR_CANNOT_FORWARD 0)" \
        in found["summary"]
    assert f"it cannot resolve {name(label)}, or it has no way to forward (a parent proxy down, direct " \
           "connections not allowed)" in found["summary"]
    assert "squid gives this one answer for both, and its page does not say which" in found["summary"]
    assert "its DNS" in found["remediation"] and "parent proxies" in found["remediation"]
    assert found["details"]["proxy_said"]["title"] == "ERROR: The requested URL could not be retrieved"


def test_tunnels_open_at_once_and_a_silent_one_is_named(check):
    # squid's own connections to blackhole.lab.test are dropped: it never answers those CONNECTs.
    run = check("--url", ENV, "--activegate", f"https://{name('blackhole')}:443",
                "--activegate", f"https://{HOSTS['blackhole']}:443", "--proxy", PROXY,
                "--only", "proxy,tcp", timeout=2)
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    for target in (f"{name('blackhole')}:443", f"{HOSTS['blackhole']}:443"):
        found = run.result("tcp", target)
        assert found["code"] == "tcp.tunnel_failed", found["summary"]
        assert "said nothing within 2 s" in found["summary"]
    assert run.result("tcp", f"{name('good')}:443")["code"] == "tcp.tunnel_open"
    assert run.seconds < 2 * 2 + 3  # two dead tunnels, one timeout


def authproxy(user: str, password: str) -> str:
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{HOSTS['authproxy']}:3128"


def test_basic_auth_with_right_credentials(check):
    run = check("--url", ENV, "--proxy", authproxy(PROXY_USER, PROXY_PASSWORD), "--only", "proxy,tcp,tls")
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    assert run.result("tls")["code"] == "tls.ok", run.words("tls")


def test_basic_auth_without_credentials(check):
    run = check("--url", ENV, "--proxy", f"http://{HOSTS['authproxy']}:3128", "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.auth_required", found["summary"]
    assert "none were sent" in found["summary"]


def test_wrong_credentials_are_said_to_be_rejected(check):
    run = check("--url", ENV, "--proxy", authproxy(PROXY_USER, "wrong-password"), "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.auth_required", found["summary"]
    assert "rejected the credentials" in found["summary"]
    assert "put them in the proxy URL" not in found["remediation"]


def test_ntlm_only_proxy_says_dtdoctor_speaks_basic_only(check):
    run = check("--url", ENV, "--proxy", authproxy(PROXY_USER, PROXY_PASSWORD).replace(
        HOSTS["authproxy"], HOSTS["ntlmproxy"]), "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.auth_required", found["summary"]
    assert "accepts only NTLM authentication" in found["summary"]
    assert "Basic only" in found["summary"]


def bumped(check, host, bumper):
    """dtdoctor through squid-openssl with ssl-bump (its own CA, trusted by the client), which bumps the tunnel;
    the origin behind the SaaS-like name is nginx with a bad certificate, so squid answers the API request with
    its error page."""
    return check("--url", f"https://{host}", "--proxy", f"http://{HOSTS[bumper]}:3128",
                 "--only", "dns,tcp,proxy,tls,api")


# squid bumping at once (client-first), and after peeking at the ClientHello (BUMP_RULES in services.py).
BUMPERS = pytest.mark.parametrize("bumper", ["bumpproxy", "peekbumpproxy"])


def assert_inspected(run, host):
    tls = run.result("tls")
    assert tls["code"] == "tls.inspected", run.words("tls")
    assert f"O={BUMP_CA_NAME}" in tls["summary"] and f"the traffic to {host} is inspected" in tls["summary"]


# What squid 5.7 wrote on its ERR_SECURE_CONNECT_FAIL page for each origin ("TLS code: ..." and the detail line),
# and the words the summary turns it into.
ORIGIN_FAULTS = [
    ("expired", "X509_V_ERR_CERT_HAS_EXPIRED", "SSL Certificate expired on:", "because that certificate has expired"),
    ("selfsigned", "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT", f"Self-signed SSL Certificate: /CN={name('selfsigned')}",
     "because that certificate is self-signed"),
    ("wronghost", "SQUID_X509_V_ERR_DOMAIN_MISMATCH", "Certificate does not match domainname: /O=trustme",
     "because that certificate is issued for another name, not {host}"),
]
REASONS = {"expired": "expired", "selfsigned": "self_signed", "wronghost": "name_mismatch"}


@BUMPERS
@pytest.mark.parametrize(("origin", "tls_code", "detail", "because"), ORIGIN_FAULTS)
def test_an_inspecting_squid_in_front_of_a_bad_origin_certificate_is_named_with_what_it_said(
    check, bumper, origin, tls_code, detail, because
):
    host = next(host for host, label in BUMPED_ORIGINS.items() if label == origin)
    run = bumped(check, host, bumper)
    assert_inspected(run, host)
    api = run.result("api")
    assert api["code"] == "api.origin_tls_rejected_by_proxy" and api["status"] == "fail", api["summary"]
    assert "X-Squid-Error: ERR_SECURE_CONNECT_FAIL" in api["summary"]
    assert f"it rejected the certificate of the real server {because.format(host=host)} ({tls_code}+broken_cert: " \
           f"{detail}" in api["summary"]
    assert api["details"]["origin_tls_error"] == f"{tls_code}+broken_cert"
    assert api["details"]["origin_tls_reason"] == REASONS[origin]
    assert "Ask the team that runs the inspecting proxy" in api["remediation"]
    assert "status page" not in f"{api['summary']} {api['remediation']}"
    assert f"the proxy's own connection to {host} does not reach Dynatrace" in api["remediation"]


# squid 5.7 names no certificate error when it cannot find a certificate's issuer: a leaf sent without its
# intermediate, or (publicbumpproxy, which trusts only the public roots) a chain from the lab's private CA. Its TLS
# code is SQUID_TLS_ERR_CONNECT+TLS_IO_ERR=1, sometimes with OpenSSL's "certificate verify failed" (A000086).
UNVERIFIED = [
    pytest.param("bumpproxy", "bumped0004.live.dynatrace.com", id="leaf without intermediate"),
    pytest.param("peekbumpproxy", "bumped0004.live.dynatrace.com", id="leaf without intermediate, peek first"),
    pytest.param("publicbumpproxy", name("good"), id="private CA the proxy does not trust"),
]


@pytest.mark.parametrize(("bumper", "host"), UNVERIFIED)
def test_an_inspecting_squid_that_cannot_find_the_issuer_is_said_to_name_no_reason(check, bumper, host):
    assert BUMPED_ORIGINS.get("bumped0004.live.dynatrace.com") == "nochain"
    run = bumped(check, host, bumper)
    api = run.result("api")
    assert api["code"] == "api.origin_tls_rejected_by_proxy", api["summary"]
    assert "it could not verify the certificate of the real server and names no reason, as squid does when it " \
           "cannot find the certificate's issuer (a private CA it does not trust, or an intermediate the server " \
           "does not send) (SQUID_TLS_ERR_CONNECT+" in api["summary"]
    assert api["details"]["origin_tls_reason"] == "unverified"
    assert f"If {host} uses a private CA, the proxy must trust that CA too" in api["remediation"]
    assert "does not reach Dynatrace" not in api["remediation"]


def test_an_inspecting_squid_that_fails_the_handshake_itself_names_the_openssl_error(check):
    # nginx speaking TLS 1.0 only: squid's handshake fails with an OpenSSL protocol error, no certificate error.
    run = bumped(check, name("tls10"), "bumpproxy")
    api = run.result("api")
    assert api["code"] == "api.origin_tls_rejected_by_proxy", api["summary"]
    assert "it could not complete a TLS handshake with the real server (an OpenSSL error, not a certificate " \
           "error) (SQUID_TLS_ERR_CONNECT+TLS_LIB_ERR=" in api["summary"]
    assert "rejected the certificate" not in api["summary"]
    assert api["details"]["origin_tls_reason"] == "handshake"
