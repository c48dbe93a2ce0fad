"""dns.judge on a resolution fed directly: which finding, which details, which evidence."""

from __future__ import annotations

from dtdoctor.checks import dns
from dtdoctor.net import dns_query
from dtdoctor.net.resolve import Resolution


def test_an_ip_address_needs_no_lookup_and_measures_nothing() -> None:
    finding = dns.judge(Resolution("10.0.0.1", ("10.0.0.1",), 3, literal=True), ["10.0.0.2"])
    assert finding.code == "dns.ok"
    assert finding.evidence.latency_ms is None and finding.evidence.error is None
    assert "nameservers" not in finding.details


def test_a_resolved_name_carries_its_latency() -> None:
    finding = dns.judge(Resolution("env.example.com", ("10.0.0.1", "fd00::1"), 7), ["10.0.0.2"], [], ["x"])
    assert finding.code == "dns.ok"
    assert finding.evidence.latency_ms == 7 and finding.evidence.error is None
    assert finding.details["nameservers"] == ["10.0.0.2"]
    assert "answers" not in finding.details and "stub_upstreams" not in finding.details


def test_a_failure_without_telling_answers_keeps_the_resolver_verdict() -> None:
    failed = Resolution("env.example.com", elapsed_ms=5, timed_out=True)
    finding = dns.judge(failed, ["10.0.0.2"])
    assert finding.code == "dns.timeout"
    assert finding.evidence.error == "timeout" and finding.evidence.latency_ms == 5
    assert "answers" not in finding.details


def test_silent_servers_name_the_timeout_and_keep_their_answers() -> None:
    failed = Resolution("env.example.com", elapsed_ms=5, error_name="EAI_AGAIN")
    answers = [dns_query.ServerAnswer("10.0.0.2", dns_query.SILENT, 1000, "")]
    finding = dns.judge(failed, ["10.0.0.2"], answers)
    assert finding.code == "dns.timeout"
    assert "does not answer at all" in finding.summary
    assert finding.details["answers"] == [answers[0].to_json()]
    assert finding.details["error"] == "EAI_AGAIN" and "stub_upstreams" not in finding.details
    assert finding.evidence.error == "EAI_AGAIN"
