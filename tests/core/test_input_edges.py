"""Input edges: known token kinds with broken shapes, what explain and the exit line claim, bad ActiveGate URLs."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import invoke


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("dt0s16.xxx", "token.malformed"),
        ("dt0s16.ABCDEFGH.ABCDEFGHIJKLMNOPQRSTUVWXYZ", "token.malformed"),
        ("dt0c01.short.x", "token.malformed"),
        ("dt0s02.xxx", "token.oauth_client"),
        ("dt0g02.xxx", "token.activegate_token"),
    ],
)
def test_a_known_kind_with_a_broken_shape_gets_a_verdict(token: str, code: str) -> None:
    result = invoke(
        "check", "--only", "config", "--url", "https://abc12345.live.dynatrace.com", "-f", "json",
        env={"DT_API_TOKEN": token},
    )
    checks = {check["id"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["config.token"]["code"] == code
    assert checks["config.token"]["status"] == "fail"
    assert result.exit_code == 2


def test_explain_names_evidence_as_a_reader_knows_it() -> None:
    """Names that start with ``_`` are wording-only internals; explain shows them without it."""
    result = invoke("explain", "token.whitespace")
    assert result.exit_code == 0
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("Evidence it names:")]
    assert "_" not in line.split(":", 1)[1].replace("source_name", "")
    assert "source" in line and "strays" in line


def test_a_run_without_a_token_does_not_claim_everything_works() -> None:
    url = "https://abc12345.live.dynatrace.com"
    result = invoke("check", "--only", "config", "--url", url, env={"DT_API_TOKEN": ""})
    assert result.exit_code == 0
    assert "everything needed to send events works" not in result.stdout
    assert "no API token was given, so the token and the events API were not checked" in result.stdout


def test_an_invalid_activegate_url_is_called_an_activegate_url() -> None:
    result = invoke(
        "check", "--only", "config", "--url", "https://abc12345.live.dynatrace.com",
        "--activegate", "https://u:PASS@127.0.0.1:18777", "-f", "json", env={"DT_API_TOKEN": ""},
    )
    invalid = [check for check in json.loads(result.stdout)["checks"] if check["code"] == "url.invalid"]
    assert len(invalid) == 1
    assert invalid[0]["summary"].startswith("ActiveGate URL ")
    assert "PASS" not in result.stdout
