"""Every kind of token through the command line: its own result, the header used, and its secret nowhere."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.api.test_cli_end_to_end import invoke, output_of
from tests.support.factories import CANARY_TOKEN
from tests.support.fake_dynatrace import FakeDynatrace, serve
from tests.support.listeners import closed_port

SECRET = "KINDSECRET" + "7" * 42 + "ZZKINDSECRET"
OLD_FORMAT = "oLdFoRmAtCaNaRy7x7x7q"
assert len(SECRET) == 64

# (token, config.token code, token code or None when no request may carry it, what the secret is)
KINDS = [
    (CANARY_TOKEN, "token.present", "token.ok", CANARY_TOKEN.split(".")[2]),
    (OLD_FORMAT, "token.old_format", "token.ok", OLD_FORMAT),
    ("dt0s16.PLATFORMCANARY0000000000." + SECRET, "token.platform", "token.unverified", SECRET),
    ("dt0s02.OAUTHCAN." + SECRET, "token.oauth_client", None, SECRET),
    ("dt0g02.AGCANARY." + SECRET, "token.activegate_token", None, SECRET),
]


@pytest.mark.parametrize(("token", "config_code", "token_code", "secret"), KINDS)
def test_each_kind_gets_its_own_result_and_never_leaks(server_tls, ca_bundle, tmp_path, token, config_code,
                                                        token_code, secret):
    fake = FakeDynatrace()
    fake.add(token)
    bundle = tmp_path / "bundle.zip"
    with serve(fake, server_tls) as env:
        result = invoke(
            ["check", "--url", env.url(), "--ca-bundle", ca_bundle, "--eec-port", str(closed_port()), "-v",
             "--timeout", "2", "-f", "json", "--only", "config,api,token,event", "--send-test-event",
             "-o", str(tmp_path / "report.html"), "--bundle", str(bundle)],
            {"DT_API_TOKEN": token + "\n"},
        )
        requests = list(env.requests)
    texts = [output_of(result), (tmp_path / "report.html").read_text()]
    with zipfile.ZipFile(bundle) as archive:
        texts += [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    for text in texts:
        assert secret not in text and secret[:12] not in text and secret[-12:] not in text
    report = json.loads(result.stdout)
    checks = {check["id"]: check for check in report["checks"]}
    config = checks["config.token"]
    # The trailing newline of the variable is a warning of its own, unless the kind is a failure; the other
    # finding goes in the details.
    first, other = (config_code, "token.whitespace") if token_code is None else ("token.whitespace", config_code)
    assert config["code"] == first
    assert other == "token.present" or other in config["details"]["also"]
    assert config["details"]["strays"] == ["trailing newline"]
    assert "DT_API_TOKEN" in config["summary"] or token_code is None
    if token_code is None:
        assert config["status"] == "fail" and "not an API token" in config["summary"]
        assert all(request.authorization is None for request in requests)  # a wrong kind is never sent
        assert checks["token"]["status"] == "skip"
        return
    assert checks["token"]["code"] == token_code
    assert checks["token"]["details"]["authorization"] == "Api-Token"
    assert {request.authorization for request in requests if request.authorization} == {f"Api-Token {token}"}
    event = next(check for check in report["checks"] if check["id"] == "event" and check["target"] == "127.0.0.1")
    assert event["details"].get("authorization") == "Api-Token", event


def test_an_old_format_token_is_shown_by_its_prefix_only(server_tls, ca_bundle):
    result = invoke(["check", "--only", "config.token", "-f", "json"], {"DT_API_TOKEN": OLD_FORMAT})
    report = json.loads(result.stdout)
    assert report["config"]["token"] == "oLdF...<redacted>"
    assert report["checks"][0]["details"]["token_id"] == "oLdF..."
    assert report["checks"][0]["status"] == "warn" and result.exit_code == 1


@pytest.mark.parametrize(("token", "shown"), [
    ("dt0g02.AGCANARY." + SECRET, "dt0g02.AGCANARY.<redacted>"),
    ("dt0s02.OAUTHCAN." + SECRET, "dt0s02.OAUTHCAN.<redacted>"),  # a client secret
    ("dt0s02.OAUTHCAN", "dt0s02.OAUTHCAN"),  # a client id alone has no secret part
])
def test_a_token_of_another_kind_is_shown_by_its_id_in_the_report_and_the_bundle(tmp_path, token, shown):
    bundle = tmp_path / "b.zip"
    result = invoke(["check", "--only", "config.token", "-f", "json", "--bundle", str(bundle)],
                    {"DT_API_TOKEN": token})
    assert json.loads(result.stdout)["config"]["token"] == shown
    with zipfile.ZipFile(bundle) as archive:
        assert json.loads(archive.read("environment.json"))["DT_API_TOKEN"] == shown
        assert json.loads(archive.read("report.json"))["config"]["token"] == shown
    assert SECRET[:12] not in result.stdout


def test_a_malformed_token_shows_nothing_of_itself(tmp_path):
    result = invoke(["check", "--only", "config.token", "-f", "json"], {"DT_API_TOKEN": "dt0g02.AGCANARY"})
    assert json.loads(result.stdout)["config"]["token"] == "<malformed, redacted>"


@pytest.mark.parametrize(("token", "secret"), [(token, secret) for token, _, code, secret in KINDS if code])
def test_a_server_echoing_any_kind_of_token_never_gets_it_into_the_output(server_tls, ca_bundle, token, secret):
    from tests.api.test_cli_end_to_end import Recorded, Reply

    def echo(request: Recorded) -> Reply:
        return Reply(401, {"error": {"code": 401, "message": f"bad token {request.authorization}"}})

    with serve(echo, server_tls) as env:
        result = invoke(["check", "--url", env.url(), "--ca-bundle", ca_bundle, "--timeout", "2", "-f", "json", "-v",
                         "--only", "token"], {"DT_API_TOKEN": token})
        assert any(request.authorization for request in env.requests)  # the token really went out
    text = output_of(result)
    assert secret not in text and secret[:12] not in text


@pytest.mark.parametrize(("token", "secret"), [(token, secret) for token, _, _, secret in KINDS])
def test_the_redactor_knows_the_secret_of_every_kind(token, secret):
    from dtdoctor.app import register_secrets
    from dtdoctor.redact import Redactor
    from tests.support.factories import settings

    redactor = Redactor()
    register_secrets(settings({"DT_API_TOKEN": token}), redactor)
    scrubbed = redactor.scrub(f"a server said: {token} / {secret}")
    assert secret not in scrubbed and secret[:12] not in scrubbed
