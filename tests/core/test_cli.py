"""The command line as users meet it: exit codes, one-line errors, JSON, secrets."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from tests.support.cli import invoke
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN
from tests.support.listeners import closed_port, open_port

CONTRACT_KEYS = {"schema", "tool", "generated_at", "duration_ms", "host", "config", "status", "exit_code",
                 "counts", "checks"}
RESULT_KEYS = {"id", "target", "title", "status", "code", "summary", "remediation", "details", "duration_ms",
               "depends_on"}


def only_core(*args):
    """Core checks only, so these tests do not depend on later check families."""
    return ["check", "--only", "config,dns,tcp", *args]


def test_no_configuration_still_runs_and_exits_0():
    result = invoke(*only_core())
    assert result.exit_code == 0, result.output
    assert "set --url or DT_ENVIRONMENT_URL" in result.output
    assert "exit 0" in result.output


def test_json_report_matches_the_contract():
    port = closed_port()
    result = invoke(*only_core("-u", f"https://127.0.0.1:{port}/e/abc", "-f", "json"))
    report = json.loads(result.stdout)
    assert set(report) == CONTRACT_KEYS
    assert report["schema"] == "dtdoctor.report/v1"
    assert report["tool"] == {"name": "dtdoctor", "version": "1.0.0"}
    assert report["generated_at"].endswith("Z")
    assert set(report["counts"]) == {"pass", "warn", "fail", "skip", "error"}
    assert sum(report["counts"].values()) == len(report["checks"])
    assert all(RESULT_KEYS <= set(check) for check in report["checks"])
    tcp = next(c for c in report["checks"] if c["id"] == "tcp")
    assert tcp["code"] == "tcp.refused" and tcp["depends_on"] == ["dns"]
    assert report["status"] == "fail" and report["exit_code"] == 2 == result.exit_code
    assert set(report["host"]) >= {"hostname", "os", "python", "container"}
    assert set(report["config"]) >= {"url", "token", "scopes", "timeout_s"}


def test_exit_codes_follow_the_worst_status():
    with open_port() as port:
        ok = invoke(*only_core("-u", f"https://127.0.0.1:{port}/e/abc"))
        # A URL of no known Dynatrace form is a warning.
        warn = invoke(*only_core("-u", f"https://127.0.0.1:{port}"))
        warn_ok = invoke(*only_core("-u", f"https://127.0.0.1:{port}", "--warn-ok"))
    assert (ok.exit_code, warn.exit_code, warn_ok.exit_code) == (0, 1, 0)
    assert invoke(*only_core("-u", "ftp://nope")).exit_code == 3  # url.invalid is an error


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--timeout", "abc"], "'abc' is not a valid float"),
        (["check", "--bogus"], "No such option"),
        (["check", "--token-file", "/nonexistent/token"], "token file not found"),
        (["check", "--only", "nosuchcheck"], "unknown check id 'nosuchcheck'"),
        (["check", "-f", "yaml"], "unknown format 'yaml'"),
        (["check", "-o", "report.txt"], "cannot tell the format"),
        (["check", "--eec-port", "0"], "--eec-port"),
        (["check", "--ca-bundle", "/nonexistent.pem"], "CA bundle not found"),
        (["explain", "tcp.tmeout"], "did you mean: tcp.timeout"),
        (["frobnicate"], "No such command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_3(args, message):
    result = invoke(*args)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("dtdoctor: error:")
    assert "Traceback" not in result.output


def test_bad_environment_variable_is_a_usage_error():
    result = invoke("check", env={"DT_TIMEOUT": "soon"})
    assert result.exit_code == 3 and "DT_TIMEOUT" in result.stderr


def test_usage_errors_as_a_subprocess():
    env = {**os.environ, "DT_TIMEOUT": ""}
    completed = subprocess.run([sys.executable, "-m", "dtdoctor", "check", "--timeout", "abc"],
                               capture_output=True, text=True, env=env, timeout=30)
    assert completed.returncode == 3
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr
    version = subprocess.run([sys.executable, "-m", "dtdoctor", "--version"], capture_output=True, text=True,
                             timeout=30)
    assert version.returncode == 0
    assert version.stdout == f"dtdoctor 1.0.0 (Python {platform.python_version()}, {sys.executable})\n"


def test_explain_prints_meaning_cause_and_fix():
    result = invoke("explain", "tcp.timeout")
    assert result.exit_code == 0
    assert "What it means" in result.output and "firewall" in result.output
    listing = invoke("explain")
    assert "url.missing" in listing.output and "tcp.open" in listing.output


def test_token_file_and_stdin(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(CANARY_TOKEN + "\n")
    token_file.chmod(0o600)
    secure = invoke(*only_core("--token-file", str(token_file), "-f", "json"))
    token = next(c for c in json.loads(secure.stdout)["checks"] if c["id"] == "config.token")
    assert token["code"] == "token.present" and token["details"]["token_id"] == "dt0c01.CANARYPUBLIC000000000000"
    token_file.chmod(0o644)
    loose = invoke(*only_core("--token-file", str(token_file)))
    assert "token.file_insecure" in loose.output and loose.exit_code == 1
    piped = invoke(*only_core("--token-file", "-", "-f", "json"), input=CANARY_TOKEN + "\n")
    assert json.loads(piped.stdout)["config"]["token"] == "dt0c01.CANARYPUBLIC000000000000.<redacted>"


def test_malformed_token_fails_without_showing_it():
    bad = "dt0c01.CANARYPUBLIC000000000000." + CANARY_SECRET[:-1]
    result = invoke(*only_core("-v"), env={"DT_API_TOKEN": bad})
    assert result.exit_code == 2 and "token.malformed" in result.output
    assert CANARY_SECRET[:12] not in result.output


def test_canary_token_appears_nowhere(tmp_path):
    port = closed_port()
    out = tmp_path / "report.json"
    env = {"DT_API_TOKEN": CANARY_TOKEN, "DT_ENVIRONMENT_URL": f"https://127.0.0.1:{port}/e/abc"}
    outputs = [invoke(*only_core("-v", *fmt, "-o", str(out)), env=env) for fmt in ([], ["-f", "json"])]
    texts = [r.stdout + r.stderr for r in outputs] + [out.read_text()]
    for text in texts:
        assert CANARY_SECRET not in text and CANARY_SECRET[:12] not in text
    assert "CANARYPUBLIC000000000000" in texts[1]


def test_quiet_shows_only_problems_and_verbose_shows_details():
    port = closed_port()
    url = f"https://127.0.0.1:{port}/e/abc"
    quiet = invoke(*only_core("-u", url, "-q"))
    assert "tcp.refused" in quiet.output and "url.ok" not in quiet.output
    verbose = invoke(*only_core("-u", url, "-v"))
    assert "attempts" in verbose.output and "[url.ok]" in verbose.output


def test_no_color_when_not_a_terminal():
    result = invoke(*only_core())
    assert "\x1b[" not in result.output
