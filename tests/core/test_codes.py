"""Classify, then word: codes own their statuses and their words; ``explain`` shows both."""

from __future__ import annotations

import datetime
import string

import pytest

from dtdoctor.checks import CHECKS, clock, container, registry_codes
from dtdoctor.checks.base import Check, Finding, Probe
from dtdoctor.core.codes import Code, codes, word
from dtdoctor.core.model import Status
from dtdoctor.core.runner import run_checks
from dtdoctor.host import container as detect
from dtdoctor.host.timesync import NtpStatus
from tests.support.cli import invoke
from tests.support.factories import context

GREETING = Code(
    "demo.greeting",
    Status.PASS,
    "A greeting was heard.",
    remediation="Answer {who}.",
    summary="{who} said {words[first]}",
    when={Status.WARN: "when the greeting was rude"},
)


def test_the_words_come_from_the_code_and_the_evidence() -> None:
    summary, remediation = word(GREETING, "", None, {"who": "Ada", "words": {"first": "hello"}})
    assert (summary, remediation) == ("Ada said hello", "Answer Ada.")
    # A finding that still words itself keeps its words; the code's remediation is the default.
    assert word(GREETING, "its own line", None, {}) == ("its own line", "Answer {who}.")
    with pytest.raises(KeyError, match="who"):
        word(GREETING, "", None, {"words": {"first": "hi"}})
    with pytest.raises(ValueError, match="no summary template"):
        word(Code("demo.plain", Status.PASS, "plain"), "", None, {})


def test_a_code_has_only_the_statuses_it_declares() -> None:
    assert GREETING.statuses == (Status.PASS, Status.WARN)
    assert GREETING.status_for(None) is Status.PASS and GREETING.status_for(Status.WARN) is Status.WARN
    with pytest.raises(ValueError, match=r"demo\.greeting is never fail"):
        GREETING.status_for(Status.FAIL)


def test_the_runner_words_results_and_refuses_an_undeclared_status() -> None:
    def greet(status: Status | None) -> Finding:
        return Finding("demo.greeting", details={"who": "Ada", "words": {"first": "hi"}, "_tone": "warm"},
                       status=status)

    probes = [Probe("polite", lambda _: greet(None)), Probe("rude", lambda _: greet(Status.WARN)),
              Probe("odd", lambda _: greet(Status.FAIL))]
    check = Check(id="demo", title="Demo", codes=codes(GREETING), plan=lambda ctx: probes)
    polite, rude, odd = run_checks([check], context())
    assert (polite.status, polite.summary, polite.remediation) == (Status.PASS, "Ada said hi", "Answer Ada.")
    assert "_tone" not in polite.details and polite.details["who"] == "Ada"
    assert rude.status is Status.WARN
    assert odd.code == "check.crashed" and "demo.greeting is never fail" in odd.summary


def test_every_template_in_the_registry_parses_and_every_check_declares_its_statuses() -> None:
    table = registry_codes()
    for code in table.values():
        for template in (code.summary, code.remediation) if code.summary else ():
            list(string.Formatter().parse(template))
        assert code.status not in code.when, code.code
    # The inline overrides of old are declared now.
    assert table["oneagent.not_installed"].statuses == (Status.WARN, Status.SKIP)
    assert set(table["eec.not_listening"].statuses) == {Status.FAIL, Status.WARN, Status.SKIP}
    assert {check.id for check in CHECKS} >= {"container", "oneagent", "eec"}


def test_explain_shows_every_status_and_the_wording() -> None:
    result = invoke("explain", "oneagent.not_installed")
    assert result.exit_code == 0
    assert "oneagent.not_installed  (warn/skip)" in result.output
    assert "  skip when OneAgent is not needed here" in result.output
    templated = invoke("explain", "container.kubernetes")
    assert "Reported as: [<perhaps>] running in a Kubernetes pod [<on>]; decided by <decided_by[source]>" in (
        templated.output)
    assert "How to fix it: Restrict the file to its owner: chmod 600 <source_name>" in invoke(
        "explain", "token.file_insecure").output
    listing = invoke("explain")
    assert any(line.startswith("clock.skew") and "warn/fail" in line for line in listing.output.splitlines())


EVIDENCE = detect.Evidence("/proc/1/cgroup", "0::/kubepods/pod1", detect.KUBERNETES, detect.STRONG)
WEAK = detect.Evidence("/.dockerenv", "present", detect.DOCKER, detect.WEAK)


@pytest.mark.parametrize(("found", "code", "summary"), [
    (detect.Detection(detect.NONE, None), "container.none", "not a container: no container evidence found"),
    (detect.Detection(detect.WSL, None, wsl=True), "container.wsl",
     "Windows Subsystem for Linux (WSL), not a container"),
    (detect.Detection(detect.DOCKER, WEAK, (WEAK,)), "container.docker",
     "perhaps running in a container (docker); decided by /.dockerenv (present); weak evidence only: cannot "
     "tell; judged as a host by the other checks"),
    (detect.Detection(detect.KUBERNETES, EVIDENCE, (EVIDENCE,), underlying=detect.CONTAINERD), "container.kubernetes",
     "running in a Kubernetes pod on containerd; decided by /proc/1/cgroup (0::/kubepods/pod1)"),
    (detect.Detection(detect.NSPAWN, EVIDENCE, (EVIDENCE,), wsl=True), "container.other",
     "running in a container (systemd-nspawn); decided by /proc/1/cgroup (0::/kubepods/pod1); "
     "on a WSL kernel, e.g. Docker Desktop"),
])
def test_the_container_verdict_is_a_table(found: detect.Detection, code: str, summary: str) -> None:
    finding = container.judge(found)
    assert finding.code == code and finding.summary == ""
    assert word(container.CODES[code], "", None, finding.details)[0] == summary


SERVER = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(("offset_s", "code", "status", "summary"), [
    (0.2, "clock.ok", Status.PASS, "within 0.5 s of tenant.example (Date header); whether NTP synchronisation is "
     "active is unknown"),
    (-45, "clock.skew", Status.WARN, "this host's clock is 45 s behind tenant.example (Date header); whether NTP "
     "synchronisation is active is unknown; with no other server's time to compare, dtdoctor cannot tell which "
     "of the two clocks is wrong"),
    (3 * 3600, "clock.skew", Status.FAIL, "this host's clock is 3.0 h ahead of tenant.example (Date header); "
     "whether NTP synchronisation is active is unknown; with no other server's time to compare, dtdoctor cannot "
     "tell which of the two clocks is wrong"),
])
def test_the_clock_verdict_is_a_table(offset_s: float, code: str, status: Status, summary: str) -> None:
    local = SERVER + datetime.timedelta(seconds=offset_s)
    sample = clock.TimeSample(local, SERVER, "Date header", 0.5, 20, 200, True)
    endpoint = context(url="https://tenant.example").settings.remote_endpoints[0]
    finding = clock.judge(endpoint, sample, NtpStatus("unknown"), {})
    table_code = clock.CODES[finding.code]
    assert (finding.code, table_code.status_for(finding.status)) == (code, status)
    assert word(table_code, finding.summary, finding.remediation, finding.details)[0] == summary


def _glued(line: str, field: str) -> bool:
    """Whether ``<field>`` stands in the line glued to the text around it, not shown apart as ``[<field>]``."""
    shown, start = f"<{field}>", 0
    while (at := line.find(shown, start)) >= 0:
        start = at + len(shown)
        before, after = line[at - 1:at], line[start:start + 1]
        if before == "[" and after == "]":
            continue
        if (before and not before.isspace() and before not in "([\"'`/:=") or after.isalnum() or after == "<":
            return True
    return False


@pytest.mark.parametrize("name", sorted(registry_codes()))
def test_explain_shows_no_name_glued_to_the_text(name: str) -> None:
    from dtdoctor.cli import explanation

    entry = registry_codes()[name]
    lines = explanation(entry)
    assert not [line for line in lines for field in entry.fields() if _glued(line, field)], lines
    assert not [line for line in lines if "{" in line and "}" in line and not line.startswith("Why")], lines


def test_explain_shows_a_clause_the_evidence_may_leave_out_apart() -> None:
    result = invoke("explain", "api.origin_tls_rejected_by_proxy")
    assert result.exit_code == 0
    assert "must fix it.<upstream>" not in result.output
    assert "must fix it. [<upstream>]" in result.output
    assert "[<name>]: a clause the evidence adds where it applies" in result.output
