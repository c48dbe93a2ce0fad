"""Nagios output of real ``dtdoctor check`` runs (a separate process, against the loopback lab)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.reports.test_nagios import first_line
from tests.support.listeners import blackhole_port
from tests.support.real_runs import EXPECTED_EXIT, Lab, lab, run, run_args


@pytest.fixture(scope="module")
def here(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with lab(Path(tmp_path_factory.mktemp("lab"))) as running:
        yield running


def test_a_usage_error_is_one_plugin_line_on_stdout(here):
    completed = run(here, "usage", "-f", "nagios")
    assert completed.returncode == EXPECTED_EXIT["usage"]
    lines = completed.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("DTDOCTOR UNKNOWN - ")
    assert "--timeout" in lines[0] and "|" not in lines[0]
    assert "--timeout" in completed.stderr  # people still read stderr


@pytest.mark.parametrize("spelling", [["-f", "nagios"], ["-fnagios"], ["--format=nagios"], ["--format", "nagios"]])
def test_every_spelling_of_the_format_gets_the_plugin_line(here, spelling):
    completed = run_args(["check", "--timeout", "soon", *spelling])
    assert completed.returncode == 3 and completed.stdout.startswith("DTDOCTOR UNKNOWN - ")


def test_a_usage_error_of_another_format_keeps_stdout_empty(here):
    completed = run(here, "usage", "-f", "json")
    assert completed.returncode == 3 and completed.stdout == ""


def test_problems_on_the_first_line_are_not_separated_by_semicolons(here):
    # Nagios turns ';' in plugin output into ':' (it separates the fields of its logs and commands).
    completed = run(here, "fail", "-f", "nagios", "--only", "config,dns,tcp,tls,api,token,eec")
    assert completed.returncode == 2
    _, status_part, _ = first_line(completed.stdout)
    assert "2 failed" in status_part and ";" not in status_part


def test_settings_read_from_the_command_line_have_no_latency(here):
    _, _, perf = first_line(run(here, "pass", "-f", "nagios").stdout)
    assert any(label.startswith("tcp_") and label.endswith("_latency") for label in perf)
    assert not any(label.startswith("config") for label in perf if label.endswith("_latency"))


def test_a_timed_out_probe_stays_within_its_own_maximum(here):
    with blackhole_port() as port:
        completed = run_args(["check", "--url", f"https://127.0.0.1:{port}/e/abc", "--only", "tcp",
                              "--timeout", "0.3", "-f", "nagios"])
    assert completed.returncode == 2, completed.stdout
    _, _, perf = first_line(completed.stdout)
    value, _, _, _, high = perf[f"tcp_127.0.0.1_{port}_latency"].split(";")
    assert high == "300" and float(value.rstrip("ms")) <= 300
