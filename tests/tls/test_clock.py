"""The clock check against real HTTPS servers whose clocks are set off on purpose, and NTP detection."""

from __future__ import annotations

import datetime
import functools
import json
from email.utils import format_datetime
from pathlib import Path

import pytest

from dtdoctor.checks import clock, tls
from dtdoctor.core.model import Status
from dtdoctor.host import timesync
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN
from tests.support.listeners import closed_port
from tests.support.tls_servers import Authority, ServerLog, http_answer, tls_server
from tests.tls.helpers import ctx_for, only, run

NO_NTP_EVIDENCE = Path(__file__).parent / "no-such-root"


def clock_result(
    root: Authority,
    root_file: Path | None,
    offset: float,
    time_api: bool = False,
    log: ServerLog | None = None,
    **options,
):
    leaf = root.issue("127.0.0.1")
    answer = functools.partial(http_answer, clock_offset_s=offset, time_api=time_api)
    # No NTP evidence (a root without /proc): whose clock is off stays this host's to check, on any machine.
    options.setdefault("root", NO_NTP_EVIDENCE)
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=answer, log=log) as port:
        if root_file is not None:
            options["ca_bundle"] = str(root_file)
        results = run(clock, ctx=ctx_for(f"https://127.0.0.1:{port}", **options))
    return only(results, "clock", "127.0.0.1")


def test_clock_in_agreement_is_ok(root: Authority, root_file: Path) -> None:
    result = clock_result(root, root_file, 0)
    assert result.code == "clock.ok" and result.status is Status.PASS
    assert result.details["source"] == "Date header"
    assert abs(result.details["skew_s"]) < 3
    assert result.details["ntp"]["state"] in {"synchronized", "service_running", "not_synchronized", "none", "unknown"}


def test_a_minute_behind_is_a_warning(root: Authority, root_file: Path) -> None:
    result = clock_result(root, root_file, 60)
    assert result.code == "clock.skew" and result.status is Status.WARN
    assert "behind 127.0.0.1" in result.summary


def test_ten_minutes_ahead_is_a_failure(root: Authority, root_file: Path) -> None:
    result = clock_result(root, root_file, -600)
    assert result.code == "clock.skew" and result.status is Status.FAIL
    assert "10 min ahead of" in result.summary
    assert "timedatectl" in result.remediation


def test_dynatrace_time_api_is_used_with_the_token_over_verified_tls(root: Authority, root_file: Path) -> None:
    log = ServerLog()
    result = clock_result(root, root_file, 120, time_api=True, log=log, environ={"DT_API_TOKEN": CANARY_TOKEN})
    assert result.code == "clock.skew"
    assert result.details["source"] == "api/v1/time"
    assert 118 < -result.details["skew_s"] < 122
    assert any(b"Authorization: Api-Token " + CANARY_TOKEN.encode() in request for request in log.requests)
    assert CANARY_SECRET not in json.dumps(result.to_json())


def test_unverified_server_still_gives_its_date_but_never_the_token(root: Authority) -> None:
    log = ServerLog()
    result = clock_result(root, None, 0, time_api=True, log=log, environ={"DT_API_TOKEN": CANARY_TOKEN})
    assert result.code == "clock.ok"
    assert result.details["verified_connection"] is False
    assert log.requests and all(b"Authorization" not in request for request in log.requests)


def test_a_certificate_the_tls_result_rejected_is_not_tried_again_by_clock(root: Authority) -> None:
    leaf = root.issue("127.0.0.1")
    answer = functools.partial(http_answer, time_api=True)
    handshakes = {}
    for modules in ((tls,), (tls, clock)):
        log = ServerLog()
        with tls_server(leaf.chain_pem(), leaf.key_pem, answer=answer, log=log) as port:
            options = {"root": NO_NTP_EVIDENCE, "environ": {"DT_API_TOKEN": CANARY_TOKEN}}
            results = run(*modules, ctx=ctx_for(f"https://127.0.0.1:{port}", **options))
        handshakes[len(modules)] = log.handshakes
    assert only(results, "tls").code == "tls.unknown_issuer"
    result = only(results, "clock", "127.0.0.1")
    assert result.code == "clock.ok" and result.details["verified_connection"] is False
    # The clock's one handshake is its unverified request: the verified one would fail as tls's did.
    assert handshakes[2] - handshakes[1] == 1
    assert log.requests and all(b"Authorization" not in request for request in log.requests)


def test_no_answer_is_clock_unknown() -> None:
    port = closed_port()
    result = only(run(clock, ctx=ctx_for(f"https://127.0.0.1:{port}", timeout=0.5)), "clock")
    assert result.code == "clock.unknown" and result.status is Status.SKIP


def test_timesyncd_flag_means_synchronised(tmp_path: Path) -> None:
    (tmp_path / "run/systemd/timesync").mkdir(parents=True)
    (tmp_path / "run/systemd/timesync/synchronized").touch()
    status = timesync.ntp_status(tmp_path)
    assert status.state == timesync.SYNCHRONIZED and status.service == "systemd-timesyncd"


def test_running_chronyd_is_found_in_proc(tmp_path: Path) -> None:
    for pid, name in (("1", "systemd"), ("412", "chronyd")):
        (tmp_path / "proc" / pid).mkdir(parents=True)
        (tmp_path / "proc" / pid / "comm").write_text(name + "\n")
    status = timesync.ntp_status(tmp_path)
    assert status.state == timesync.SERVICE_RUNNING and status.service == "chronyd"


def test_timesyncd_without_sync_flag_is_not_synchronised(tmp_path: Path) -> None:
    (tmp_path / "proc/77").mkdir(parents=True)
    (tmp_path / "proc/77/comm").write_text("systemd-timesyn\n")
    status = timesync.ntp_status(tmp_path)
    assert status.state == timesync.NOT_SYNCHRONIZED


def test_no_daemon_and_no_proc(tmp_path: Path) -> None:
    (tmp_path / "proc/1").mkdir(parents=True)
    (tmp_path / "proc/1/comm").write_text("bash\n")
    assert timesync.ntp_status(tmp_path).state == timesync.NONE
    assert timesync.ntp_status(tmp_path / "empty").state == timesync.UNKNOWN


def test_timesyncd_beside_another_daemon_names_the_other(tmp_path: Path) -> None:
    for pid, name in (("77", "systemd-timesyn"), ("412", "ntpd")):
        (tmp_path / "proc" / pid).mkdir(parents=True)
        (tmp_path / "proc" / pid / "comm").write_text(name + "\n")
    status = timesync.ntp_status(tmp_path)
    assert (status.state, status.service, status.evidence) == (timesync.SERVICE_RUNNING, "ntpd", "ntpd found in /proc")


@pytest.mark.parametrize("readable_proc", [True, False])
def test_a_pid_file_shows_a_daemon_proc_does_not(tmp_path: Path, readable_proc: bool) -> None:
    if readable_proc:
        (tmp_path / "proc/1").mkdir(parents=True)
        (tmp_path / "proc/1/comm").write_text("bash\n")
    (tmp_path / "var/run/chrony").mkdir(parents=True)
    (tmp_path / "var/run/chrony/chronyd.pid").write_text("412\n")
    status = timesync.ntp_status(tmp_path)
    assert (status.state, status.service, status.evidence) == (
        timesync.SERVICE_RUNNING,
        "chronyd",
        "/var/run/chrony/chronyd.pid exists",
    )


def _answer_with(body: bytes, date: str | None):
    def answer(request: bytes) -> bytes:
        head = "HTTP/1.1 200 OK\r\n" + (f"Date: {date}\r\n" if date else "")
        head += f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        return head.encode("latin-1") + body

    return answer


def hostile_clock_result(root: Authority, root_file: Path, body: bytes, date: str | None):
    leaf = root.issue("127.0.0.1")
    now = datetime.datetime.now(datetime.timezone.utc)
    shown_date = format_datetime(now, usegmt=True) if date == "now" else date
    with tls_server(leaf.chain_pem(), leaf.key_pem, answer=_answer_with(body, shown_date)) as port:
        ctx = ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), environ={"DT_API_TOKEN": CANARY_TOKEN},
                      root=NO_NTP_EVIDENCE)
        return only(run(clock, ctx=ctx), "clock", "127.0.0.1")


def test_a_time_beyond_any_calendar_falls_back_to_the_date_header(root: Authority, root_file: Path) -> None:
    result = hostile_clock_result(root, root_file, b"9" * 20, "now")
    assert result.code == "clock.ok"
    assert result.details["source"] == "Date header"


def test_a_time_of_thousands_of_digits_falls_back_to_the_date_header(root: Authority, root_file: Path) -> None:
    result = hostile_clock_result(root, root_file, b"1" * 5000, "now")
    assert result.code == "clock.ok"
    assert result.details["source"] == "Date header"


def test_a_time_with_a_superscript_digit_and_no_date_is_unknown(root: Authority, root_file: Path) -> None:
    result = hostile_clock_result(root, root_file, "17638000000²0".encode(), None)
    assert result.code == "clock.unknown" and result.status is Status.SKIP
    assert "no Date header" in result.summary


def test_a_date_at_the_end_of_the_calendar_is_a_skew_not_a_crash(root: Authority, root_file: Path) -> None:
    result = hostile_clock_result(root, root_file, b"{}", "Fri, 31 Dec 9999 23:59:59 -1200")
    assert result.code == "clock.skew" and result.status is Status.FAIL
    assert result.details["server_utc"].startswith("9999-12-31")


def test_an_impossible_date_is_unknown(root: Authority, root_file: Path) -> None:
    result = hostile_clock_result(root, root_file, b"{}", "Fri, 31 Dec 99999 25:61:61 GMT")
    assert result.code == "clock.unknown"
    assert "cannot be read" in result.summary
