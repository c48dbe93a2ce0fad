"""dnsmasq as the client's resolver: each way a lookup fails, told apart and the resolver named."""

from __future__ import annotations

import pytest

from tests.lab import netns
from tests.lab.services import HOSTS, name

pytestmark = pytest.mark.lab


@pytest.fixture()
def resolver():
    """Point the client at another lab resolver for one test."""
    yield netns.set_client_resolver
    netns.set_client_resolver(HOSTS["dns"])


@pytest.mark.parametrize(
    ("server", "label", "code", "words"),
    [
        ("dns", "nope", "dns.failed", "resolver {ip} answered NXDOMAIN: {host} does not exist"),
        ("dns", "nodata", "dns.nodata", "resolver {ip} knows {host} but has no address"),
        ("dnsservfail", "good", "dns.servfail", "resolver {ip} answered SERVFAIL for {host}"),
        ("dnsrefused", "good", "dns.refused", "resolver {ip} answered REFUSED for {host}"),
        ("dnssilent", "good", "dns.timeout", "no answer for {host} from resolver {ip}"),
    ],
)
def test_each_resolver_answer_is_named(check, resolver, server, label, code, words):
    resolver(HOSTS[server])
    run = check("--url", f"https://{name(label)}/e/abc12345", "--only", "dns", timeout=2)
    found = run.result("dns")
    assert found["code"] == code, run.words("dns")
    assert words.format(ip=HOSTS[server], host=name(label)) in found["summary"]
    assert "could not be reached" not in found["summary"]
    if code == "dns.servfail":
        assert f"whoever runs resolver {HOSTS[server]}" in found["remediation"]
