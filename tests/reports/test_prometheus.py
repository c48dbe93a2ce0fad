"""Prometheus text: parses with the reference parser, labels escaped, expiry as timestamps."""

from __future__ import annotations

import datetime as dt

from prometheus_client.parser import text_string_to_metric_families

from dtdoctor.core.model import Status
from dtdoctor.render import render
from tests.support import samples
from tests.support.factories import report, result
from tests.support.reports import HOSTILE, hostile_report


def samples_of(text: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        assert family.documentation
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def epoch(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def by_code(sample, code):
    return next(item for item in sample.checks if item.code == code)


def test_broken_run_metrics():
    sample = samples.broken()
    found = samples_of(render(sample, "prometheus"))
    status = {(s.labels["id"], s.labels["target"]): s for s in found["dtdoctor_check_status"]}
    assert len(status) == len(sample.checks)
    failing = by_code(sample, "api.http_error")
    failed = status[("api", failing.target)]
    assert failed.value == 2 and set(failed.labels) == {"id", "target"}
    info = {(s.labels["id"], s.labels["target"]): s for s in found["dtdoctor_check_info"]}
    assert info[("api", failing.target)].labels["code"] == "api.http_error"
    assert len(info) == len(sample.checks) and all(s.value == 1 for s in info.values())
    expiring = by_code(sample, "tls.expiring_soon")
    assert status[("tls", expiring.target)].value == 1
    assert status[("proxy", "-")].value == -1
    assert status[("dns", "127.0.0.1")].value == 0
    durations = {(s.labels["id"], s.labels["target"]): s.value for s in found["dtdoctor_check_duration_seconds"]}
    assert durations[("api", failing.target)] == failing.duration_ms / 1000
    certificates = {s.labels["target"]: s.value for s in found["dtdoctor_certificate_expiry_timestamp_seconds"]}
    assert certificates[expiring.target] == epoch(expiring.evidence.certificate_expires_at)
    assert len(certificates) == 2
    assert "dtdoctor_token_expiry_timestamp_seconds" not in found  # this token never expires
    assert found["dtdoctor_exit_code"][0].value == 2
    assert found["dtdoctor_status"][0].value == 2
    assert found["dtdoctor_last_run_timestamp_seconds"][0].value == epoch(sample.generated_at)
    assert found["dtdoctor_run_duration_seconds"][0].value == sample.duration_ms / 1000
    counts = {s.labels["status"]: s.value for s in found["dtdoctor_checks"]}
    assert counts == sample.counts and counts["fail"] == 3


def test_healthy_run_has_token_expiry_and_pass_verdict():
    sample = samples.healthy()
    found = samples_of(render(sample, "prometheus"))
    token = by_code(sample, "token.ok")
    assert [(s.labels["target"], s.value) for s in found["dtdoctor_token_expiry_timestamp_seconds"]] == [
        (token.target, epoch(token.evidence.token_expires_at))
    ]
    assert len(found["dtdoctor_certificate_expiry_timestamp_seconds"]) == 2
    assert found["dtdoctor_status"][0].value == 0 and found["dtdoctor_exit_code"][0].value == 0
    assert found["dtdoctor_info"][0].labels == {"version": "1.0.0", "hostname": "web-01"}


def test_label_values_are_escaped_and_read_back_intact():
    found = samples_of(render(hostile_report(), "prometheus"))
    targets = {s.labels["target"] for s in found["dtdoctor_check_status"]}
    assert f"evil{HOSTILE}:443" in targets
    assert found["dtdoctor_info"][0].labels["hostname"] == f"host{HOSTILE}"
    assert found["dtdoctor_exit_code"][0].value == 3


def test_a_changed_status_or_code_keeps_every_status_series():
    """Alert ``for:`` timers run on a series: a check going from pass to fail must not start a new one."""
    passing = report(result("tcp", "ag:9999", Status.PASS, "tcp.open"), result("tls", "ag:9999", Status.PASS, "tls.ok"))
    failing = report(result("tcp", "ag:9999", Status.FAIL, "tcp.timeout"),
                     result("tls", "ag:9999", Status.SKIP, "prerequisite.failed"))

    def series(sample_report) -> dict[tuple, float]:
        found = samples_of(render(sample_report, "prometheus"))
        return {tuple(sorted(s.labels.items())): s.value for s in found["dtdoctor_check_status"]}

    before, after = series(passing), series(failing)
    assert before.keys() == after.keys()
    assert sorted(before.values()) == [0, 0] and sorted(after.values()) == [-1, 2]


def test_fifty_results_parse():
    found = samples_of(render(samples.many_results(50), "prometheus"))
    assert len(found["dtdoctor_check_status"]) == 50
