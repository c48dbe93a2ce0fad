"""End to end through the command line: codes in the JSON report, and the canary's secret nowhere."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dtdoctor.cli import cli
from tests.support.factories import CANARY_PUBLIC, CANARY_SECRET, CANARY_TOKEN
from tests.support.fake_dynatrace import FakeDynatrace, Recorded, Reply, serve
from tests.support.listeners import closed_port


def invoke(args: list[str], environ: dict[str, str]):
    runner = CliRunner()
    return runner.invoke(cli, args, env=environ, catch_exceptions=False)


def output_of(result) -> str:
    return result.stdout + (result.stderr if result.stderr_bytes is not None else "")


def test_check_against_the_fake_api_reports_codes_and_never_the_secret(server_tls, ca_bundle):
    fake = FakeDynatrace()
    fake.add(CANARY_TOKEN, scopes=("events.read",))
    with serve(fake, server_tls) as env:
        result = invoke(
            ["check", "--url", env.url(), "--ca-bundle", ca_bundle, "--eec-port", str(closed_port()),
             "--timeout", "2", "-f", "json", "--only", "config,dns,tcp,api,token,event"],
            {"DT_API_TOKEN": CANARY_TOKEN},
        )
        assert all(r.authorization == f"Api-Token {CANARY_TOKEN}" for r in env.requests)
    text = output_of(result)
    assert CANARY_SECRET not in text and CANARY_SECRET[:12] not in text
    report = json.loads(result.stdout)
    codes = {(check["id"], check["code"]) for check in report["checks"]}
    assert ("api", "api.ok") in codes
    assert ("token", "token.missing_scope") in codes
    assert not any(check["id"] == "event" for check in report["checks"])  # not asked for
    token = next(check for check in report["checks"] if check["id"] == "token")
    assert token["details"]["id"] == f"dt0c01.{CANARY_PUBLIC}"
    assert "add scope Ingest events (events.ingest)" in token["remediation"]
    assert result.exit_code == 2


def test_a_server_echoing_the_token_never_gets_it_into_any_output(server_tls, ca_bundle):
    def echo(request: Recorded) -> Reply:
        return Reply(401, {"error": {"code": 401, "message": f"bad token {request.authorization}"}})

    with serve(echo, server_tls) as env:
        for fmt in ("json", "console"):
            result = invoke(
                ["check", "--url", env.url(), "--ca-bundle", ca_bundle, "--timeout", "2", "-f", fmt, "-v",
                 "--only", "api,token,event", "--send-test-event", "--eec-port", str(closed_port())],
                {"DT_API_TOKEN": CANARY_TOKEN},
            )
            text = output_of(result)
            assert CANARY_SECRET not in text and CANARY_SECRET[:12] not in text
            assert "Traceback" not in text
            assert "api.not_dynatrace" in text
            if fmt == "json":
                report = json.loads(result.stdout)
                codes = [(check["id"], check["code"]) for check in report["checks"]]
                assert ("api", "api.not_dynatrace") in codes
                assert ("token", "prerequisite.failed") in codes
                assert ("event", "prerequisite.failed") in codes  # nothing posted to a server that is not Dynatrace
                api = next(check for check in report["checks"] if check["id"] == "api")
                assert api["details"]["echoes_token"] is True
        assert [r.path for r in env.requests] == ["/e/abc/api/v1/time", "/e/abc/api/v1/time"]


def test_an_error_message_echoing_the_token_is_scrubbed_at_the_source(server_tls, ca_bundle):
    def echo(request: Recorded) -> Reply:
        return Reply(401, {"error": {"code": 401, "message": f"bad token {request.authorization}"}})

    with serve(echo, server_tls) as env:
        result = invoke(
            ["check", "--url", env.url(), "--ca-bundle", ca_bundle, "--timeout", "2", "-f", "json", "--only", "token"],
            {"DT_API_TOKEN": CANARY_TOKEN},
        )
    assert CANARY_SECRET[:12] not in output_of(result)
    token = json.loads(result.stdout)["checks"][0]
    assert token["code"] == "token.unverified"
    assert token["details"]["echoes_token"] is True
