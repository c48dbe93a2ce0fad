"""Behind systemd-resolved's stub (127.0.0.53), the servers it forwards to are asked too, and the one that
failed is named: the stub on this host only relays (or, for a silent upstream, answers SERVFAIL itself)."""

from __future__ import annotations

import pytest

from dtdoctor.checks import dns
from dtdoctor.net import dns_query
from dtdoctor.net.resolve import Resolution

HOST = "env.example.com"
FAILED = Resolution(HOST, error_name="EAI_AGAIN", error_message="Temporary failure in name resolution")
STUB = "127.0.0.53"
UPSTREAM = "10.0.0.2"


def answer(server: str, said: str) -> dns_query.ServerAnswer:
    return dns_query.ServerAnswer(server, said, 12, said if said not in (dns_query.SILENT,) else "")


def verdict(stub_said: str, upstream_said: str, upstreams=(UPSTREAM,)):
    answers = [answer(STUB, stub_said), *(answer(server, upstream_said) for server in upstreams)]
    return dns.judge(FAILED, [STUB], answers, list(upstreams))


@pytest.mark.parametrize("stub_said", [dns_query.SERVFAIL, dns_query.SILENT])
def test_a_silent_upstream_is_named_whatever_the_stub_made_of_it(stub_said):
    # systemd-resolved answers SERVFAIL when its upstreams time out; a relaying stub stays silent.
    finding = verdict(stub_said, dns_query.SILENT)
    assert finding.code == "dns.timeout"
    assert finding.summary == (
        f"no answer for {HOST} from resolver {UPSTREAM} (behind systemd-resolved's stub {STUB} on this host): "
        "it does not answer at all"
    )
    assert finding.remediation.startswith(f"Check that this host may reach {UPSTREAM} on UDP and TCP port 53")
    assert "systemd-resolved's DNS servers (`resolvectl status`, /etc/systemd/resolved.conf)" in finding.remediation
    assert f"reach {STUB}" not in finding.remediation


def test_an_upstream_servfail_is_the_upstreams_to_fix():
    finding = verdict(dns_query.SERVFAIL, dns_query.SERVFAIL)
    assert finding.code == "dns.servfail"
    assert finding.summary.startswith(
        f"resolver {UPSTREAM} (behind systemd-resolved's stub {STUB} on this host) answered SERVFAIL for {HOST}"
    )
    assert f"Ask whoever runs resolver {UPSTREAM} (behind" in finding.remediation
    assert f"`dig {HOST} @{UPSTREAM}`" in finding.remediation


def test_an_upstream_refusal_points_at_resolveds_servers_not_resolv_conf():
    finding = verdict(dns_query.REFUSED, dns_query.REFUSED)
    assert finding.code == "dns.refused"
    assert f"resolver {UPSTREAM} (behind systemd-resolved's stub {STUB} on this host) answered REFUSED" in (
        finding.summary
    )
    assert finding.remediation.startswith(
        "Use a resolver that serves this host in systemd-resolved's DNS servers (`resolvectl status`, "
        "/etc/systemd/resolved.conf)"
    )


def test_the_upstream_that_gave_a_clear_answer_decides_over_a_silent_one():
    answers = [answer(STUB, dns_query.SERVFAIL), answer("10.0.0.2", dns_query.SILENT),
               answer("10.0.0.3", dns_query.NXDOMAIN)]
    finding = dns.judge(FAILED, [STUB], answers, ["10.0.0.2", "10.0.0.3"])
    assert finding.code == "dns.failed"
    assert finding.summary.startswith("resolver 10.0.0.3 (behind systemd-resolved's stub 127.0.0.53 on this host) "
                                      "answered NXDOMAIN")
    assert [item["server"] for item in finding.details["answers"]] == [STUB, "10.0.0.2", "10.0.0.3"]


def test_a_silent_stub_whose_upstream_answers_is_the_stub_itself():
    finding = verdict(dns_query.SILENT, dns_query.ANSWERED)
    assert finding.code == "dns.timeout"
    assert finding.summary == (
        f"no answer for {HOST} from resolver {STUB} (systemd-resolved, forwarding to {UPSTREAM}): it does not "
        "answer at all"
    )


def test_without_the_stub_nothing_changes():
    answers = [answer("10.0.0.9", dns_query.SILENT)]
    finding = dns.judge(FAILED, ["10.0.0.9"], answers, [])
    assert finding.code == "dns.timeout"
    assert finding.remediation.endswith("or use another resolver in /etc/resolv.conf.")


@pytest.mark.parametrize("stub_said, code", [(dns_query.NXDOMAIN, "dns.failed"), (dns_query.NODATA, "dns.nodata")])
def test_an_answer_the_stub_relayed_decides_over_upstreams_silent_to_this_host(stub_said, code):
    """The stub's NXDOMAIN came from a server behind it that answered it: one silent to dtdoctor's own query
    (systemd-resolved speaking DNS over TLS to it, a firewall open to port 853 only) is no timeout."""
    finding = verdict(stub_said, dns_query.SILENT)
    assert finding.code == code
    assert finding.summary.startswith(f"resolver {STUB} (systemd-resolved, forwarding to {UPSTREAM})")
