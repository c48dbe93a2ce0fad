"""The support bundle's contents, and report files: -o by suffix, -o DIR/, atomic writes."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile

import pytest

from dtdoctor.redact import Redactor
from dtdoctor.render.bundle import build_bundle, debug_log, relevant_environment, write_bundle
from tests.support import samples
from tests.support.factories import CANARY_PUBLIC, CANARY_SECRET, CANARY_TOKEN
from tests.support.reports import hostile_report, run_cli


def test_environment_shows_relevant_variables_redacted():
    environ = {
        "DT_API_TOKEN": CANARY_TOKEN,
        "DT_ENVIRONMENT_URL": "https://abc12345.live.dynatrace.com",
        "DT_PAAS_TOKEN": "some-other-secret-value",
        "HTTPS_PROXY": "http://alice:s3cretpass@proxy.corp:3128",
        "http_proxy": "http://bob:hunter22@proxy.corp:3128",
        "NO_PROXY": "localhost,.corp",
        "SSL_CERT_FILE": "/etc/ssl/corp.pem",
        "REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem",
        "CURL_CA_BUNDLE": "/etc/ssl/curl.pem",
        "PATH": "/usr/bin",
        "HOME": "/root",
    }
    shown = relevant_environment(environ)
    assert set(shown) == set(environ) - {"PATH", "HOME"}
    assert shown["DT_API_TOKEN"] == f"dt0c01.{CANARY_PUBLIC}.<redacted>"
    assert shown["DT_PAAS_TOKEN"] == "<redacted>"
    assert shown["HTTPS_PROXY"] == "http://<credentials>@proxy.corp:3128"
    assert shown["http_proxy"] == "http://<credentials>@proxy.corp:3128"
    assert shown["NO_PROXY"] == "localhost,.corp" and shown["SSL_CERT_FILE"] == "/etc/ssl/corp.pem"
    assert relevant_environment({"DT_API_TOKEN": "not a token"})["DT_API_TOKEN"].startswith("<malformed token")


def test_bundle_members_and_every_member_scrubbed(tmp_path):
    sample = samples.broken()
    redactor = Redactor([CANARY_SECRET])
    path = tmp_path / "ticket.zip"
    write_bundle(path, sample, {"DT_API_TOKEN": CANARY_TOKEN, "DT_NOTE": f"echo {CANARY_SECRET}"}, redactor)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        members = {name: archive.read(name).decode("utf-8") for name in archive.namelist()}
        stamped = dt.datetime.strptime(sample.generated_at, "%Y-%m-%dT%H:%M:%SZ")
        assert archive.getinfo("report.html").date_time == (*stamped.timetuple()[:5], stamped.second // 2 * 2)
    assert list(members) == ["report.html", "report.json", "host.json", "environment.json", "debug.log"]
    assert members["report.html"].startswith("<!DOCTYPE html>")
    assert json.loads(members["report.json"])["exit_code"] == 2
    assert json.loads(members["host.json"])["hostname"] == "web-01"
    assert json.loads(members["environment.json"])["DT_NOTE"] == "echo <redacted>"
    for name, text in members.items():
        assert CANARY_SECRET not in text, name
    assert [p.name for p in tmp_path.iterdir()] == ["ticket.zip"]  # no temporary file left behind


def test_debug_log_has_timing_codes_and_tracebacks():
    log = debug_log(hostile_report())
    assert re.search(r"^\s+3\s+43\s+40\s+fail\s+tls.untrusted_root\s+tls evil", log, re.M)
    assert "traceback of api abc12345.live.dynatrace.com (check.crashed):\nTraceback ...\nValueError:" in log
    assert log.rstrip().endswith('"error": 1}')
    assert "status error, exit 3" in log


def test_build_bundle_is_deterministic_for_one_report():
    redactor = Redactor()
    assert build_bundle(samples.healthy(), {}, redactor) == build_bundle(samples.healthy(), {}, redactor)


def test_output_folder_gets_named_html_and_json(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    run = run_cli(["check", "--only", "config", "-o", f"{folder}/", "-o", str(tmp_path / "x.prom")])
    assert run.exit_code == 0, run.stderr
    names = sorted(path.name for path in folder.iterdir())
    assert len(names) == 2
    assert re.fullmatch(r"dtdoctor-[A-Za-z0-9._-]+-\d{8}T\d{6}Z\.html", names[0])
    assert names[1] == names[0].replace(".html", ".json")
    assert json.loads((folder / names[1]).read_text())["schema"] == "dtdoctor.report/v1"
    assert "dtdoctor_exit_code 0" in (tmp_path / "x.prom").read_text()
    # An existing folder given without the slash is a folder too.
    run = run_cli(["check", "--only", "config", "-o", str(folder), "-f", "nagios"])
    assert run.stdout.startswith("DTDOCTOR OK - ")
    assert len(list(folder.iterdir())) in (2, 4)  # same second: same names, replaced


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "report.txt"], "cannot tell the format of report file 'report.txt'"),
        (["-o", "/nonexistent-folder/"], "folder for report files '/nonexistent-folder/' does not exist"),
        (["-o", "/nonexistent-folder/r.html"], "does not exist"),
        (["--bundle", "/nonexistent-folder/b.zip"], "cannot write the support bundle"),
        (["--bundle", "ticket.txt"], "the support bundle is a zip file: give a name ending in .zip, not 'ticket.txt'"),
        (["--bundle", "ticket"], "give a name ending in .zip, not 'ticket'"),
        (["--bundle", ".zip"], "give a name before .zip (such as support.zip), not '.zip'"),
        (["-f", "yaml"], "unknown format 'yaml'"),
    ],
)
def test_unusable_output_options_fail_before_the_run(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = run_cli(["check", "--root", str(tmp_path), *args])
    assert run.exit_code == 3
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a bundle under another name


@pytest.mark.parametrize("option", ["-o", "--bundle"])
def test_a_file_that_cannot_be_created_is_named_as_given(option, tmp_path):
    """The folder exists but takes no new file (/proc): the one line names the file asked for, not the
    temporary file written beside it first."""
    target = "/proc/dtdoctor-report.json" if option == "-o" else "/proc/dtdoctor-support.zip"
    run = run_cli(["check", "--root", str(tmp_path), "--only", "config", option, target])
    assert run.exit_code == 3
    assert run.stderr.strip().splitlines() == [f"dtdoctor: error: No such file or directory: {target}"]
