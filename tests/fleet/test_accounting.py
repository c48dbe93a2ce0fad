"""``merge --expect`` and ``--max-age``: every expected host accounted for, old reports not passed off as current."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dtdoctor.duration import parse_duration
from dtdoctor.fleet.accounting import ExpectFileError, parse_expect_lines
from tests.support.fleet_reports import host_report, real_check_report, run_cli, write_json


def _now(offset_s: float = 0) -> str:
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=offset_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(tmp_path: Path, *args: str):
    out = tmp_path / "fleet.json"
    html = tmp_path / "fleet.html"
    run = run_cli("merge", *args, "-o", str(out), "-o", str(html))
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    page = html.read_text(encoding="utf-8") if html.exists() else ""
    return run, data, page


def test_missing_hosts_are_listed_with_the_collectors_reason_and_exit_3(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    real_check_report(reports / "web-01.json")
    expect = tmp_path / "expected"
    expect.write_text("# from the inventory\nweb-01\n\nweb-02 could_not_run exit 127: dtdoctor: not found\n"
                      "db-01\tunreachable\tssh: connect to host db-01 port 22: No route to host\nweb-03\n",
                      encoding="utf-8")

    run, data, page = _merge(tmp_path, str(reports), "--host-from", "file", "--expect", str(expect))

    assert run.exit_code == 3
    assert data["status"] == "error" and data["exit_code"] == 3
    assert data["hosts_expected"] == 4
    assert data["hosts_missing"] == [
        {"host": "web-02", "reason": "could_not_run", "note": "exit 127: dtdoctor: not found"},
        {"host": "db-01", "reason": "unreachable", "note": "ssh: connect to host db-01 port 22: No route to host"},
        {"host": "web-03", "reason": "no_report"},
    ]
    assert data["hosts_unexpected"] == [] and data["hosts_stale"] == []
    assert "db-01 missing: host unreachable" in run.stderr
    assert "web-02 missing: dtdoctor could not run" in run.stderr
    assert "3 missing" in run.stdout
    assert "Hosts not accounted for" in page
    for name in ("web-02", "db-01", "web-03", "could_not_run", "unreachable", "no_report"):
        assert name in page
    assert "3 of 4 hosts need attention" in page


def test_reports_of_hosts_not_expected_are_named_but_merged(tmp_path: Path) -> None:
    write_json(tmp_path / "r" / "web-01.json", host_report("web-01", generated_at=_now()))
    write_json(tmp_path / "r" / "old-box.json", host_report("old-box", generated_at=_now()))
    expect = tmp_path / "expected"
    expect.write_text("WEB-01\n", encoding="utf-8")  # host names compare without case

    run, data, page = _merge(tmp_path, str(tmp_path / "r"), "--expect", str(expect))

    assert run.exit_code == 0, run.stderr
    assert data["hosts_missing"] == []
    assert data["hosts_unexpected"] == ["old-box"]
    assert data["hosts_total"] == 2
    assert "not in the expect file" in page


def test_every_expected_host_missing_still_writes_the_fleet_view(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    expect = tmp_path / "expected"
    expect.write_text("web-01 unreachable\n", encoding="utf-8")

    run, data, _ = _merge(tmp_path, str(tmp_path / "empty"), "--expect", str(expect))

    assert run.exit_code == 3
    assert data["hosts_missing"] == [{"host": "web-01", "reason": "unreachable"}]


def test_reports_older_than_max_age_are_stale_by_their_own_time(tmp_path: Path) -> None:
    write_json(tmp_path / "r" / "fresh.json", host_report("fresh", generated_at=_now(60)))
    write_json(tmp_path / "r" / "old.json", host_report("old", generated_at=_now(26 * 3600)))
    write_json(tmp_path / "r" / "garbled.json", host_report("garbled", generated_at="yesterday-ish"))

    run, data, page = _merge(tmp_path, str(tmp_path / "r"), "--max-age", "24h")

    assert run.exit_code == 3
    stale = {item["host"]: item for item in data["hosts_stale"]}
    assert sorted(stale) == ["garbled", "old"]
    assert 26 * 3600 <= stale["old"]["age_s"] < 26 * 3600 + 120
    assert stale["garbled"]["age_s"] is None
    assert data["hosts_total"] == 3  # stale hosts stay in the view, their results from then
    assert "old stale: report is 26h old" in run.stderr
    assert "stale" in page and "26h old" in page


def test_fresh_reports_within_max_age_change_nothing(tmp_path: Path) -> None:
    real_check_report(tmp_path / "r" / "host.json")

    run, data, _ = _merge(tmp_path, str(tmp_path / "r"), "--max-age", "90m")

    assert data["hosts_stale"] == []
    assert run.exit_code == data["exit_code"] and data["status"] != "error"


@pytest.mark.parametrize("value", ["soon", "-5m", "0", "5w", ""])
def test_a_bad_max_age_is_a_usage_error(tmp_path: Path, value: str) -> None:
    write_json(tmp_path / "r" / "a.json", host_report("a"))
    run, data, _ = _merge(tmp_path, str(tmp_path / "r"), "--max-age", value)
    assert run.exit_code == 3 and data is None
    assert "--max-age" in run.stderr and "Traceback" not in run.stderr


def test_a_bad_expect_file_is_a_usage_error_naming_the_line(tmp_path: Path) -> None:
    write_json(tmp_path / "r" / "a.json", host_report("a"))
    expect = tmp_path / "expected"
    expect.write_text("a\nb broken\n", encoding="utf-8")
    run, data, _ = _merge(tmp_path, str(tmp_path / "r"), "--expect", str(expect))
    assert run.exit_code == 3 and data is None
    assert "line 2" in run.stderr and "'broken'" in run.stderr

    run, data, _ = _merge(tmp_path, str(tmp_path / "r"), "--expect", str(tmp_path / "nope"))
    assert run.exit_code == 3 and data is None and "cannot read the expect file" in run.stderr


def test_expect_lines_last_one_wins_per_host() -> None:
    hosts = parse_expect_lines(["a", "A unreachable", "# c", "  ", "b could_not_run"])
    assert [(host.name, host.reason) for host in hosts] == [("A", "unreachable"), ("b", "could_not_run")]
    with pytest.raises(ExpectFileError):
        parse_expect_lines(["a reachable"])


@pytest.mark.parametrize("text, seconds", [("300", 300), ("90s", 90), ("5m", 300), ("24h", 86400),
                                            ("7d", 604800), ("1.5h", 5400), (" 2M ", 120)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
