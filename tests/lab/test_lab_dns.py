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


def test_nxdomain_names_the_resolver(check):
    run = check("--url", f"https://{name('nope')}/e/abc12345", "--only", "dns")
    found = run.result("dns")
    assert found["code"] == "dns.failed", run.words("dns")
    assert f"resolver {HOSTS['dns']} answered NXDOMAIN" in found["summary"]
    assert "does not exist" in found["summary"]


def test_nodata_is_not_nxdomain(check):
    run = check("--url", f"https://{name('nodata')}/e/abc12345", "--only", "dns")
    found = run.result("dns")
    assert found["code"] == "dns.nodata", run.words("dns")
    assert f"resolver {HOSTS['dns']} knows {name('nodata')} but has no address" in found["summary"]


def test_servfail_says_the_resolver_failed_and_who_runs_it(check, resolver):
    resolver(HOSTS["dnsservfail"])
    run = check("--url", f"https://{name('good')}/e/abc12345", "--only", "dns")
    found = run.result("dns")
    assert found["code"] == "dns.servfail", run.words("dns")
    assert f"resolver {HOSTS['dnsservfail']} answered SERVFAIL" in found["summary"]
    assert f"whoever runs resolver {HOSTS['dnsservfail']}" in found["remediation"]
    assert "could not be reached" not in found["summary"]


def test_refused_is_named(check, resolver):
    resolver(HOSTS["dnsrefused"])
    run = check("--url", f"https://{name('good')}/e/abc12345", "--only", "dns")
    found = run.result("dns")
    assert found["code"] == "dns.refused", run.words("dns")
    assert f"resolver {HOSTS['dnsrefused']} answered REFUSED" in found["summary"]


def test_silent_resolver_is_a_timeout_naming_it(check, resolver):
    resolver(HOSTS["dnssilent"])
    run = check("--url", f"https://{name('good')}/e/abc12345", "--only", "dns", timeout=2)
    found = run.result("dns")
    assert found["code"] == "dns.timeout", run.words("dns")
    assert HOSTS["dnssilent"] in found["summary"]
