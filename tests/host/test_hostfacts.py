"""Host facts for the report header, read from a fake root, and the header's container field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dtdoctor.core.report import build_report
from dtdoctor.host.facts import collect
from tests.support.factories import result, settings
from tests.support.fake_hosts import fake_host


def test_facts_from_a_fake_root(tmp_path: Path) -> None:
    fake_host(tmp_path, "bare_metal")
    facts = collect(tmp_path)
    assert facts["distribution"] == "Debian GNU/Linux 12 (bookworm)"
    assert facts["kernel"] == "6.1.0-18-amd64"
    assert facts["memory_bytes"] == 16314480 * 1024
    assert facts["uptime_s"] == 12345
    assert facts["time_zone"] == "Europe/Vienna"
    assert facts["cpu_count"] >= 1
    assert facts["python"] and facts["architecture"] and facts["hostname"]
    assert facts["container"] is None


def test_time_zone_from_the_localtime_link(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/localtime").symlink_to("/usr/share/zoneinfo/America/New_York")
    assert collect(tmp_path)["time_zone"] == "America/New_York"


def test_an_empty_root_leaves_facts_out_without_failing(tmp_path: Path) -> None:
    facts = collect(tmp_path)
    assert "distribution" not in facts and "memory_bytes" not in facts and "uptime_s" not in facts
    assert facts["python"]


def header(code: str, details: dict[str, object]) -> dict[str, object]:
    found = result("container", "local", code=code, details=details)
    report = build_report([found], settings(), {"container": None}, dt.datetime.now(dt.timezone.utc), 1)
    return dict(report.host)


def test_report_header_names_the_runtime() -> None:
    assert header("container.docker", {"runtime": "docker"})["container"] == "docker"
    assert header("container.other", {"runtime": "systemd-nspawn"})["container"] == "systemd-nspawn"
    assert header("container.none", {"runtime": None})["container"] is None
    wsl = header("container.wsl", {"runtime": None, "wsl": True})
    assert wsl["container"] is None and wsl["wsl"] is True
    assert header("container.lxc", {})["container"] == "lxc"  # a report without details


def test_ntp_state_is_a_host_fact(tmp_path):
    flag = tmp_path / "run/systemd/timesync/synchronized"
    flag.parent.mkdir(parents=True)
    flag.touch()
    assert collect(tmp_path)["ntp"] == "NTP synchronisation is active (systemd-timesyncd)"


def test_odd_numbers_in_proc_are_left_out_without_failing(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal:       16²00 kB\n", encoding="utf-8")
    (tmp_path / "proc/uptime").write_text("inf 0.00\n", encoding="utf-8")
    facts = collect(tmp_path)
    assert "memory_bytes" not in facts and "uptime_s" not in facts
    (tmp_path / "proc/meminfo").write_text("MemTotal: " + "9" * 5000 + " kB\n", encoding="utf-8")
    assert "memory_bytes" not in collect(tmp_path)
