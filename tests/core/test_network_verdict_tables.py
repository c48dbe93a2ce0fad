"""The classification tables behind dns, tcp-through-proxy and 407 verdicts, fed evidence directly.

The lab (tests/lab) proves them against real squid and dnsmasq; these cover
what the lab's software does not send: RFC 9209 Proxy-Status, Negotiate, and
the systemd-resolved stub.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dtdoctor.checks import dns
from dtdoctor.net import dns_query, proxy_cause
from dtdoctor.net.resolve import Resolution


@pytest.mark.parametrize(
    ("status", "said", "kind"),
    [
        (502, {"proxy-status": 'proxy.example; error=dns_error; rcode="NXDOMAIN"'}, proxy_cause.DNS),
        (502, {"proxy-status": "proxy.example; error=connection_refused"}, proxy_cause.CONNECT),
        # RFC 9209's details are free text, quoted: a comma in them separates no member.
        (502, {"proxy-status": 'proxy.example; error=connection_refused; details="refused, gave up"'},
         proxy_cause.CONNECT),
        (504, {"proxy-status": "proxy.example; error=connection_timeout"}, proxy_cause.TIMEOUT),
        (502, {"proxy-status": "proxy.example; error=tls_certificate_error"}, proxy_cause.ORIGIN_TLS),
        # A list names the proxy nearest this host last (RFC 9209, section 2): its error is the one about this answer.
        (504, {"proxy-status": "far.example; error=dns_error, near.example; error=connection_timeout"},
         proxy_cause.TIMEOUT),
        (503, {"x-squid-error": "ERR_CONNECT_FAIL 110"}, proxy_cause.TIMEOUT),
        (503, {"x-squid-error": "ERR_SECURE_CONNECT_FAIL 0"}, proxy_cause.ORIGIN_TLS),
        (403, {}, proxy_cause.POLICY),
        (418, {}, proxy_cause.UNKNOWN),
    ],
)
def test_what_a_proxy_says_decides_the_cause(status, said, kind):
    cause = proxy_cause.classify(status, said)
    assert cause.kind == kind
    assert (cause.evidence != "") == bool(said)


def test_a_407_offering_only_negotiate_is_not_basic():
    said = {"proxy-authenticate": "Negotiate, NTLM"}
    assert proxy_cause.offered_schemes(said) == ["Negotiate", "NTLM"]
    assert not proxy_cause.basic_offered(said)
    assert proxy_cause.basic_offered({"proxy-authenticate": 'Basic realm="corp"'})


def test_a_comma_inside_a_quoted_realm_is_no_scheme():
    # RFC 9110 11.6.2: challenges are separated by commas, and a realm is a quoted string that may hold one.
    said = {"proxy-authenticate": 'Digest realm="Corp, Inc", nonce="a, b", Negotiate'}
    assert proxy_cause.offered_schemes(said) == ["Digest", "Negotiate"]
    assert not proxy_cause.basic_offered(said)


def test_the_stub_resolver_is_named_with_its_upstreams(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/resolv.conf").write_text("nameserver 127.0.0.53\noptions edns0\n")
    upstream = tmp_path / "run/systemd/resolve"
    upstream.mkdir(parents=True)
    (upstream / "resolv.conf").write_text("nameserver 10.0.0.2\nnameserver 10.0.0.3\n")
    servers = dns_query.nameservers(tmp_path)
    assert servers == ["127.0.0.53"]
    upstreams = dns_query.stub_upstreams(tmp_path, servers)
    assert upstreams == ["10.0.0.2", "10.0.0.3"]
    failed = Resolution("env.example.com", error_name="EAI_AGAIN", error_message="Temporary failure")
    answers = [dns_query.ServerAnswer("127.0.0.53", dns_query.SERVFAIL, 12, "SERVFAIL")]
    finding = dns.judge(failed, servers, answers, upstreams)
    assert finding.code == "dns.servfail"
    assert "resolver 127.0.0.53 (systemd-resolved, forwarding to 10.0.0.2, 10.0.0.3) answered SERVFAIL" in (
        finding.summary
    )
