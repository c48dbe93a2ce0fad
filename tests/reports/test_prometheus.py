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


def test_broken_run_metrics():
    sample = samples.broken()
    found = samples_of(render(sample, "prometheus"))
    status = {(s.labels["id"], s.labels["target"]): s for s in found["dtdoctor_check_status"]}
    assert len(status) == len(sample.checks)
    timeout = status[("tcp", "ag-01.corp.example.com:9999")]
    assert timeout.value == 2 and set(timeout.labels) == {"id", "target"}
    info = {(s.labels["id"], s.labels["target"]): s for s in found["dtdoctor_check_info"]}
    assert info[("tcp", "ag-01.corp.example.com:9999")].labels["code"] == "tcp.timeout"
    assert len(info) == len(sample.checks) and all(s.value == 1 for s in info.values())
    assert status[("truststore", "local")].value == 1
    assert status[("api", "abc12345.live.dynatrace.com")].value == -1
    assert status[("dns", "abc12345.live.dynatrace.com")].value == 0
    durations = {(s.labels["id"], s.labels["target"]): s.value for s in found["dtdoctor_check_duration_seconds"]}
    assert durations[("tcp", "ag-01.corp.example.com:9999")] == 5.002
    certificate = found["dtdoctor_certificate_expiry_timestamp_seconds"]
    assert [(s.labels["target"], s.value) for s in certificate] == [
        ("abc12345.live.dynatrace.com:443", epoch("2026-12-21T00:00:00Z"))
    ]
    assert "dtdoctor_token_expiry_timestamp_seconds" not in found  # the token check was skipped
    assert found["dtdoctor_exit_code"][0].value == 2
    assert found["dtdoctor_status"][0].value == 2
    assert found["dtdoctor_last_run_timestamp_seconds"][0].value == epoch("2026-11-22T10:00:00Z")
    assert found["dtdoctor_run_duration_seconds"][0].value == 5.011
    counts = {s.labels["status"]: s.value for s in found["dtdoctor_checks"]}
    assert counts == {"pass": 6, "warn": 2, "fail": 5, "skip": 3, "error": 0}


def test_healthy_run_has_token_expiry_and_pass_verdict():
    found = samples_of(render(samples.healthy(), "prometheus"))
    token = found["dtdoctor_token_expiry_timestamp_seconds"]
    assert [(s.labels["target"], s.value) for s in token] == [
        ("abc12345.live.dynatrace.com", epoch("2027-05-01T00:00:00Z"))
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
