"""Whose clock is off: this host's, the server's, or the evidence cannot tell.

A difference between two clocks says nothing about which one is wrong. The
evidence that does: this host's NTP synchronisation (systemd-timesyncd's
flag), and the other servers of the same run (one that agrees with this host
puts the blame on the server; several that are off alike put it here).
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

import pytest

from dtdoctor.checks import clock
from dtdoctor.config import parse_url
from dtdoctor.core.codes import word
from dtdoctor.core.model import Status
from dtdoctor.host import timesync
from tests.support.tls_servers import Authority, http_answer, tls_server
from tests.tls.helpers import ctx_for, run

NOW = datetime.datetime(2026, 11, 30, 8, 0, tzinfo=datetime.timezone.utc)
SYNCED = timesync.NtpStatus(timesync.SYNCHRONIZED, "systemd-timesyncd", "flag")
NO_NTP = timesync.NtpStatus(timesync.NONE, None, "no time daemon found in /proc")
CHRONY = timesync.NtpStatus(timesync.SERVICE_RUNNING, "chronyd", "chronyd found in /proc")


def verdict(server_ahead_s: float, ntp: timesync.NtpStatus, others: dict[str, float] | None = None):
    endpoint = parse_url("https://cluster.example.com/e/abc").endpoint
    assert endpoint is not None
    sample = clock.TimeSample(NOW, NOW + datetime.timedelta(seconds=server_ahead_s), "api/v1/time", 0.01, 20, 200,
                              True)
    finding = clock.judge(endpoint, sample, ntp, others or {})
    code = clock.CODES[finding.code]
    summary, remediation = word(code, finding.summary, finding.remediation, finding.details)
    return finding, code.status_for(finding.status), summary, remediation


def test_a_server_two_hours_ahead_of_an_ntp_synchronised_host_is_the_servers_fault():
    finding, status, summary, remediation = verdict(7200, SYNCED)
    assert (finding.code, status) == ("clock.server_skew", Status.FAIL)
    assert summary == (
        "cluster.example.com's clock is 2.0 h ahead of this host's (api/v1/time); NTP synchronisation is active "
        "here (systemd-timesyncd), so cluster.example.com's clock is the one that is off"
    )
    assert remediation.startswith("Ask whoever runs cluster.example.com")
    assert "timedatectl set-ntp" not in remediation


def test_one_server_and_no_sync_seen_here_cannot_tell_whose_clock_is_wrong():
    finding, status, summary, remediation = verdict(7200, NO_NTP)
    assert (finding.code, status) == ("clock.skew", Status.FAIL)
    assert summary == (
        "this host's clock is 2.0 h behind cluster.example.com (api/v1/time); no NTP service (chronyd, ntpd, "
        "systemd-timesyncd) is running; with no other server's time to compare, dtdoctor cannot tell which of "
        "the two clocks is wrong"
    )
    assert "timedatectl set-ntp true" in remediation
    assert "ask whoever runs cluster.example.com to synchronise its clock" in remediation


def test_a_daemon_whose_sync_state_is_not_visible_is_no_proof_either():
    finding, _, summary, _ = verdict(-600, CHRONY)
    assert finding.code == "clock.skew"
    assert summary.startswith("this host's clock is 10 min ahead of cluster.example.com (api/v1/time); chronyd is")
    assert summary.endswith("dtdoctor cannot tell which of the two clocks is wrong")


def test_another_server_that_agrees_with_this_host_puts_the_blame_on_the_server():
    finding, status, summary, _ = verdict(7200, NO_NTP, {"abc12345.live.dynatrace.com": 0.4})
    assert (finding.code, status) == ("clock.server_skew", Status.FAIL)
    assert summary == (
        "cluster.example.com's clock is 2.0 h ahead of this host's (api/v1/time); abc12345.live.dynatrace.com "
        "agrees with this host to within 1 s, so cluster.example.com's clock is the one that is off"
    )
    assert finding.details["compared_with"] == {"abc12345.live.dynatrace.com": 0.4}


def test_other_servers_off_by_the_same_amount_put_the_blame_on_this_host():
    finding, status, summary, remediation = verdict(45, NO_NTP, {"ag1.example.com": -44.2, "ag2.example.com": -46})
    assert (finding.code, status) == ("clock.skew", Status.WARN)
    assert summary.endswith(
        "ag1.example.com and ag2.example.com are off by the same amount, so this host's clock is the likelier "
        "one to be off"
    )
    assert "timedatectl set-ntp true" in remediation


def test_ntp_synchronisation_here_outranks_servers_that_agree_with_each_other():
    finding, _, summary, _ = verdict(7200, SYNCED, {"ag1.example.com": -7200})
    assert finding.code == "clock.server_skew"
    assert "NTP synchronisation is active here (systemd-timesyncd)" in summary


def test_a_small_difference_is_ok_whatever_the_others_say():
    finding, status, summary, _ = verdict(10, NO_NTP, {"ag1.example.com": -7200})
    assert (finding.code, status) == ("clock.ok", Status.PASS)
    assert summary.startswith("within 10.0 s of cluster.example.com")


@pytest.fixture()
def no_ntp_root(tmp_path: Path) -> Path:
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/comm").write_text("bash\n")
    return tmp_path


def two_real_servers(root: Authority, root_file: Path, host_root: Path, offsets: tuple[float, float]) -> dict:
    """The clock results of one run against two real servers: 127.0.0.1 and localhost, ahead by ``offsets``."""
    leaf = root.issue("127.0.0.1", "localhost")
    first, second = (functools.partial(http_answer, clock_offset_s=offset, time_api=True) for offset in offsets)
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=first) as environment, \
            tls_server(leaf.chain_pem(), leaf.key_pem, answer=second) as gate:
        ctx = ctx_for(f"https://127.0.0.1:{environment}/e/abc", activegates=(f"https://localhost:{gate}/e/abc",),
                      ca_bundle=str(root_file))
        ctx = type(ctx)(ctx.settings, ctx.environ, host_root)
        return {result.target: result for result in run(clock, ctx=ctx)}


def test_two_real_servers_in_one_run_are_judged_against_each_other(root: Authority, root_file: Path, no_ntp_root):
    results = two_real_servers(root, root_file, no_ntp_root, (7200, 0))
    assert results["localhost"].code == "clock.ok"
    skewed_result = results["127.0.0.1"]
    assert (skewed_result.code, skewed_result.status) == ("clock.server_skew", Status.FAIL), skewed_result.summary
    assert "localhost agrees with this host to within" in skewed_result.summary


def test_a_server_whose_clock_probe_is_skipped_is_not_waited_for(root: Authority, root_file: Path, no_ntp_root):
    # localhost's port is closed: tcp fails, so its clock probe never runs; 127.0.0.1's must not wait for it.
    from dtdoctor.checks import tcp
    from tests.support.listeners import closed_port

    leaf = root.issue("127.0.0.1")
    ahead = functools.partial(http_answer, clock_offset_s=7200, time_api=True)
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=ahead) as skewed:
        ctx = ctx_for(f"https://127.0.0.1:{skewed}/e/abc", activegates=(f"https://localhost:{closed_port()}/e/abc",),
                      ca_bundle=str(root_file), timeout=2.0)
        ctx = type(ctx)(ctx.settings, ctx.environ, no_ntp_root)
        results = run(tcp, clock, ctx=ctx)
    found = next(result for result in results if result.id == "clock" and result.target == "127.0.0.1")
    assert found.code == "clock.skew" and found.details["blamed"] == "cannot_tell", found.summary
    assert found.duration_ms < 1500  # no wait for the other server's time: one per-probe timeout is 2 s
    assert [r.code for r in results if r.id == "clock" and r.target == "localhost"] == ["prerequisite.failed"]


def test_in_a_container_no_time_daemon_inside_is_no_evidence_about_the_clock():
    # A container's clock is its host's kernel clock: the host's NTP daemon is not visible from inside.
    seen = timesync.seen_from_container(NO_NTP, "podman")
    assert seen.state == timesync.CONTAINER
    assert seen.sentence == "this is a podman container, whose clock is its host's: the host's NTP state is not " \
        "visible here"
    finding, _, summary, remediation = verdict(7200, seen)
    assert finding.code == "clock.skew" and finding.details["blamed"] == "cannot_tell"
    assert "no NTP service" not in summary and "whose clock is its host's" in summary
    assert "in a container, on its host" in remediation


def test_a_visible_sync_state_is_kept_in_a_container():
    assert timesync.seen_from_container(SYNCED, "docker") == SYNCED


def test_a_podman_container_is_named_in_the_clock_verdict(root: Authority, root_file: Path, no_ntp_root):
    from dtdoctor.checks import container

    (no_ntp_root / "run").mkdir()
    (no_ntp_root / "run/.containerenv").touch()
    leaf = root.issue("127.0.0.1")
    ahead = functools.partial(http_answer, clock_offset_s=7200, time_api=True)
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=ahead) as skewed:
        ctx = ctx_for(f"https://127.0.0.1:{skewed}/e/abc", ca_bundle=str(root_file))
        ctx = type(ctx)(ctx.settings, ctx.environ, no_ntp_root)
        results = {result.id: result for result in run(container, clock, ctx=ctx)}
    assert results["container"].code == "container.podman"
    found = results["clock"]
    assert found.code == "clock.skew", found.summary
    assert "this is a podman container, whose clock is its host's" in found.summary
    assert found.details["ntp"]["state"] == "container"


def test_servers_that_disagree_with_this_host_and_each_other_are_named_as_compared():
    finding, status, summary, _ = verdict(400, NO_NTP, {"ag1.example.com": -120})
    assert (finding.code, status) == ("clock.skew", Status.FAIL)
    assert "no other server's time" not in summary
    assert summary.endswith(
        "ag1.example.com was compared too and disagrees with both this host and cluster.example.com, so the "
        "evidence cannot tell whose clock is off"
    )


def test_two_real_servers_that_disagree_with_each_other_say_they_were_compared(root: Authority, root_file: Path,
                                                                                no_ntp_root):
    results = two_real_servers(root, root_file, no_ntp_root, (400, 120))
    assert results["127.0.0.1"].summary.endswith(
        "localhost was compared too and disagrees with both this host and 127.0.0.1, so the evidence cannot tell "
        "whose clock is off"
    ), results["127.0.0.1"].summary
    assert results["localhost"].summary.endswith(
        "127.0.0.1 was compared too and disagrees with both this host and localhost, so the evidence cannot tell "
        "whose clock is off"
    ), results["localhost"].summary
