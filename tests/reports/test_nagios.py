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


def by_code(sample, code):
    return next(item for item in sample.checks if item.code == code)


def label(item, what: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", f"{item.id} {item.target} {what}")


def test_broken_run_line_and_perfdata():
    sample = samples.broken()
    text = render(sample, "nagios")
    _, status_part, perf = first_line(text)
    assert status_part.startswith("DTDOCTOR CRITICAL - 3 failed, 1 warning: ")
    total = len(sample.checks)
    assert perf["pass"] == f"{sample.counts['pass']};;;0;{total}" and perf["fail"] == f"3;;;0;{total}"
    assert perf["duration"] == f"{sample.duration_ms}ms;;;0"
    unavailable = by_code(sample, "api.http_error")
    assert perf[label(unavailable, "latency")] == f"{unavailable.evidence.latency_ms}ms;;;0;3000"  # measured
    # Whole days from the run's start to the expiry 9.5 days after the servers started: 9.
    assert perf[label(by_code(sample, "tls.expiring_soon"), "certificate_days")] == "9;14:;0:"
    assert not any(name.startswith(("proxy_", "oneagent_")) for name in perf)  # skipped probes measured nothing
    long_output = text.splitlines()[1:]
    assert long_output[0].startswith("FAIL api 127.0.0.1:") and "HTTP 503" in long_output[0]
    assert any(line.startswith("WARN tls 127.0.0.1:") and "Renew the certificate" in line for line in long_output)


def test_healthy_run_has_token_and_certificate_days():
    sample = samples.healthy()
    _, status_part, perf = first_line(render(sample, "nagios"))
    assert status_part == f"DTDOCTOR OK - {len(sample.checks) - 1} of {len(sample.checks)} checks passed (1 skipped)"
    assert perf[label(by_code(sample, "token.ok"), "token_days")] == "160;14:;0:"  # 160.5 days after the start
    days = sorted(value for name, value in perf.items() if name.endswith("_certificate_days"))
    assert days == ["212;14:;0:", "300;14:;0:"]


def test_hostile_text_cannot_break_the_line_or_the_perfdata():
    text = render(hostile_report(), "nagios")
    _, status_part, perf = first_line(text)
    assert "|" not in status_part.replace("DTDOCTOR", "")
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+", label) for label in perf)
    # Days computed from the expiry timestamp relative to the run when only the timestamp is given.
    assert perf["token_abc12345.live.dynatrace.com_token_days"].startswith("3;")
    for extra in text.splitlines()[1:]:
        assert "|" not in extra
