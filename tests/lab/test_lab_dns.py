"""dnsmasq as the client's resolver: each way a lookup fails, told apart and the resolver named."""

from __future__ import annotations

import pytest

from tests.lab import netns, services
from tests.lab.services import HOSTS, RESOLVED_STUB, name

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


@pytest.fixture()
def resolved_stub(lab, tmp_path):
    """``resolved_stub(label)``: the client's resolver is a systemd-resolved-like stub on 127.0.0.53 that
    forwards to the lab resolver ``label``; returns the filesystem root (``--root``) holding the files resolved
    keeps, so dtdoctor reads the stub in /etc/resolv.conf and its upstream in /run/systemd/resolve/resolv.conf."""
    started = []

    def start(label: str) -> str:
        upstream = HOSTS[label]
        log = open(lab.folder / f"stub-{label}.out", "wb")  # closed below
        process = netns.popen_in(netns.CLIENT, services.resolved_stub_argv(lab.folder, upstream), log)
        started.append((process, log))
        services.wait_for_port(RESOLVED_STUB, 53, process, "dnsmasq (stub)", namespace=netns.CLIENT)
        netns.set_client_resolver(RESOLVED_STUB, "edns0 trust-ad timeout:1 attempts:1")
        services.resolved_files(tmp_path, [upstream])
        return str(tmp_path)

    yield start
    netns.set_client_resolver(HOSTS["dns"])
    for process, log in started:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_a_name_resolves_through_the_stub(check, resolved_stub):
    root = resolved_stub("dns")
    run = check("--url", f"https://{name('good')}/e/abc12345", "--only", "dns", "--root", root, timeout=2)
    assert run.result("dns")["code"] == "dns.ok", run.words("dns")


@pytest.mark.parametrize(
    ("upstream", "label", "code", "words", "fix"),
    [
        ("dns", "nope", "dns.failed", "resolver {behind} answered NXDOMAIN: {host} does not exist",
         "ask whoever runs {behind}"),
        ("dnsservfail", "good", "dns.servfail", "resolver {behind} answered SERVFAIL for {host}",
         "Ask whoever runs resolver {behind} to check its upstream servers"),
        ("dnsrefused", "good", "dns.refused", "resolver {behind} answered REFUSED for {host}",
         "Use a resolver that serves this host in systemd-resolved's DNS servers (`resolvectl status`"),
        ("dnssilent", "good", "dns.timeout", "no answer for {host} from resolver {behind}: it does not answer at all",
         "Check that this host may reach {ip} on UDP and TCP port 53"),
    ],
)
def test_a_failure_behind_the_stub_names_the_upstream_server(check, resolved_stub, upstream, label, code, words, fix):
    root = resolved_stub(upstream)
    run = check("--url", f"https://{name(label)}/e/abc12345", "--only", "dns", "--root", root, timeout=2)
    found = run.result("dns")
    ip = HOSTS[upstream]
    behind = f"{ip} (behind systemd-resolved's stub {RESOLVED_STUB} on this host)"
    assert found["code"] == code, run.words("dns")
    assert words.format(behind=behind, host=name(label)) in found["summary"]
    assert fix.format(behind=behind, ip=ip) in found["remediation"]
    assert found["details"]["stub_upstreams"] == [ip]
    assert [answer["server"] for answer in found["details"]["answers"]] == [RESOLVED_STUB, ip]
