"""Nagios plugin output: status word matches the exit code, perfdata per the plugin guidelines."""

from __future__ import annotations

import re

import pytest

from dtdoctor.core.model import Status
from dtdoctor.render import render
from tests.support import samples
from tests.support.factories import report, result
from tests.support.reports import hostile_report

# 'label'=value[UOM];[warn];[crit];[min];[max] with the range syntax of the guidelines.
_RANGE = r"(@?(~|-?[0-9.]+)?:?(-?[0-9.]+)?)?"
PERFDATA = re.compile(
    rf"'(?P<label>[^'=]+)'=(?P<value>-?[0-9.]+)(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"
    rf"(;{_RANGE}(;{_RANGE}(;(-?[0-9.]+)?(;(-?[0-9.]+)?)?)?)?)?$"
)


def first_line(text: str) -> tuple[str, str, dict[str, str]]:
    line = text.splitlines()[0]
    status_part, _, perf = line.partition(" | ")
    items = {}
    for item in perf.split(" "):
        match = PERFDATA.match(item)
        assert match, f"perfdata item {item!r} breaks the plugin guidelines"
        items[match.group("label")] = item.split("=", 1)[1]
    return line, status_part, items


@pytest.mark.parametrize(
    ("status", "word"),
    [(Status.PASS, "OK"), (Status.WARN, "WARNING"), (Status.FAIL, "CRITICAL"), (Status.ERROR, "UNKNOWN")],
)
def test_status_word_follows_the_exit_code(status, word):
    text = render(report(result(status=status, code="x.y", summary="s")), "nagios")
    assert text.startswith(f"DTDOCTOR {word} - ")


def test_warn_ok_makes_the_line_ok_like_the_exit_code():
    text = render(report(result(status=Status.WARN, code="x.y", summary="s"), warn_ok=True), "nagios")
    assert text.startswith("DTDOCTOR OK - ")


def test_broken_run_line_and_perfdata():
    sample = samples.broken()
    text = render(sample, "nagios")
    _, status_part, perf = first_line(text)
    assert status_part.startswith("DTDOCTOR CRITICAL - 5 failed, 2 warning: oneagent: OneAgent is not installed")
    assert "and 4 more" in status_part
    assert perf["pass"] == "6;;;0;16" and perf["fail"] == "5;;;0;16" and perf["duration"] == "5011ms;;;0"
    assert perf["tcp_ag-01.corp.example.com_9999_latency"] == "5000ms;;;0;5000"  # ran into its timeout
    assert perf["tcp_abc12345.live.dynatrace.com_443_latency"] == "37ms;;;0;5000"  # latency_ms detail wins
    # Whole days from the run's start (10:00) to the expiry (2026-12-21T00:00:00Z): 28.6 -> 28.
    assert perf["tls_abc12345.live.dynatrace.com_443_certificate_days"] == "28;14:;0:"
    assert not any("api_" in label for label in perf)  # skipped probes measured nothing
    long_output = text.splitlines()[1:]
    assert long_output[0].startswith("FAIL oneagent: OneAgent is not installed")
    assert any(line.startswith("WARN truststore") and "apt-get install" in line for line in long_output)


def test_healthy_run_has_token_and_certificate_days():
    _, status_part, perf = first_line(render(samples.healthy(), "nagios"))
    assert status_part == "DTDOCTOR OK - 16 of 17 checks passed (1 skipped)"
    assert perf["token_abc12345.live.dynatrace.com_token_days"] == "159;14:;0:"  # to 2027-05-01T00:00:00Z
    assert perf["tls_ag-01.corp.example.com_9999_certificate_days"] == "300;14:;0:"  # to 2027-09-19T08:00:00Z


def test_hostile_text_cannot_break_the_line_or_the_perfdata():
    text = render(hostile_report(), "nagios")
    _, status_part, perf = first_line(text)
    assert "|" not in status_part.replace("DTDOCTOR", "")
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+", label) for label in perf)
    # Days computed from the expiry timestamp relative to the run when only the timestamp is given.
    assert perf["token_abc12345.live.dynatrace.com_token_days"].startswith("3;")
    for extra in text.splitlines()[1:]:
        assert "|" not in extra
