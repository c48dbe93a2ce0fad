"""The canary token never leaves the process: not on stdout or stderr, in no report file, in no bundle member.

A loopback server echoes the token back, the echo lands in summaries,
details, remediation and a crash's traceback; every format must still be
clean, down to any 12-character fragment of the secret.
"""

from __future__ import annotations

import json
import zipfile

import pytest

import dtdoctor.checks
from dtdoctor.render import FORMATS
from tests.support import echo_check
from tests.support.factories import CANARY_PUBLIC, CANARY_SECRET, CANARY_TOKEN
from tests.support.listeners import closed_port
from tests.support.reports import run_cli

FRAGMENTS = {CANARY_SECRET[i : i + 12] for i in range(len(CANARY_SECRET) - 11)}


def assert_clean(where: str, text: str) -> None:
    assert CANARY_SECRET not in text, f"the token's secret leaked into {where}"
    leaked = sorted(fragment for fragment in FRAGMENTS if fragment in text)
    assert not leaked, f"part of the token's secret leaked into {where}: {leaked[:3]}"


@pytest.fixture
def echoing_server(httpserver):
    httpserver.expect_request("/api/v2/apiTokens/lookup").respond_with_handler(echo_check.echo_token)
    return httpserver


@pytest.mark.parametrize("output_format", list(FORMATS))
def test_no_format_file_or_bundle_member_carries_the_token(output_format, echoing_server, tmp_path, monkeypatch):
    monkeypatch.setattr(dtdoctor.checks, "CHECKS", (*dtdoctor.checks.CHECKS, echo_check.CHECK))
    monkeypatch.setenv("DT_API_TOKEN", CANARY_TOKEN)
    monkeypatch.setenv("DT_ENVIRONMENT_URL", echoing_server.url_for("/"))
    monkeypatch.setenv("DT_CUSTOM_SETTING", f"contains {CANARY_TOKEN}")
    folder = tmp_path / "reports"
    folder.mkdir()
    files = [tmp_path / name for name in ("r.html", "r.htm", "r.json", "r.xml", "r.prom")]
    bundle = tmp_path / "support.zip"
    args = ["check", "-f", output_format, "--timeout", "1", "--root", str(tmp_path), "-v", "--bundle", str(bundle)]
    for path in [*files, folder]:
        args += ["-o", f"{path}/" if path == folder else str(path)]

    run = run_cli(args)

    assert run.exit_code == 3, run.stderr  # the crashing probe makes the verdict incomplete
    assert "RuntimeError: unexpected answer" in run.stderr  # -v printed the traceback ...
    assert_clean("stderr", run.stderr)  # ... without the secret
    assert_clean(f"stdout ({output_format})", run.stdout)
    written = [*files, *sorted(folder.iterdir())]
    assert len(written) == 7
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "echo" in text  # the echoing check's result is in there ...
        assert_clean(path.name, text)  # ... and scrubbed
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        assert set(names) == {"report.html", "report.json", "host.json", "environment.json", "debug.log"}
        for name in names:
            assert_clean(f"bundle member {name}", archive.read(name).decode("utf-8"))
        environment = json.loads(archive.read("environment.json"))
        assert environment["DT_API_TOKEN"] == f"dt0c01.{CANARY_PUBLIC}.<redacted>"
        assert "RuntimeError: unexpected answer" in archive.read("debug.log").decode()
    assert not list(tmp_path.glob(".*.tmp")) and not list(folder.glob(".*.tmp"))


def test_the_echo_really_carried_the_token_before_redaction(echoing_server, tmp_path, monkeypatch):
    """Guards the test above: the server did send the secret back, so clean output means scrubbed output."""
    monkeypatch.setattr(dtdoctor.checks, "CHECKS", (*dtdoctor.checks.CHECKS, echo_check.CHECK))
    monkeypatch.setenv("DT_API_TOKEN", CANARY_TOKEN)
    monkeypatch.setenv("DT_ENVIRONMENT_URL", echoing_server.url_for("/"))
    run = run_cli(["check", "-f", "json", "--only", "echo", "--timeout", "1", "--root", str(tmp_path)])
    report = json.loads(run.stdout)
    echoed = next(item for item in report["checks"] if item["code"] == "echo.answered")
    assert f"dt0c01.{CANARY_PUBLIC}.<redacted>" in echoed["details"]["answer"]
    assert echoed["details"]["secret_fragment"] == "<redacted>"
    assert len(echoing_server.log) == 2
    request, _ = echoing_server.log[0]
    assert request.headers["Authorization"] == f"Api-Token {CANARY_TOKEN}"


def test_passwords_in_dynatrace_urls_and_basic_credentials_never_reach_the_bundle(tmp_path):
    import base64
    import zipfile

    from tests.support.cli import invoke

    password = "S3cretPassw0rdInUrl"
    bundle = tmp_path / "b.zip"
    env = {
        "DT_ENVIRONMENT_URL": f"https://admin:{password}@127.0.0.1:{closed_port()}/e/abc",
        "DT_ACTIVEGATE_URLS": f"https://ag:{password}x@127.0.0.1:{closed_port()}",
        "DT_API_TOKEN": CANARY_TOKEN,
    }
    result = invoke("check", "--timeout", "0.5", "--bundle", str(bundle), "-f", "json", env=env)
    assert password not in result.stdout + result.stderr
    with zipfile.ZipFile(bundle) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8")
            assert password not in text, name
            assert CANARY_SECRET not in text, name
    basic = base64.b64encode(f"admin:{password}".encode()).decode()
    from dtdoctor.app import url_secrets

    assert basic in url_secrets(env["DT_ENVIRONMENT_URL"])


@pytest.mark.parametrize(("variable", "value"), [
    ("DT_API_TOKEN", "null"),
    ("DT_API_TOKEN", "fail"),
    ("HTTPS_PROXY", "http://user:pass@127.0.0.1:9"),
])
def test_a_short_secret_leaves_every_format_parseable(tmp_path, variable, value):
    import json
    import xml.etree.ElementTree as ElementTree

    from tests.support.cli import invoke

    env = {"DT_ENVIRONMENT_URL": f"https://127.0.0.1:{closed_port()}/e/abc", variable: value}
    if variable != "DT_API_TOKEN":
        env["DT_API_TOKEN"] = CANARY_TOKEN
    invoke("check", "--timeout", "0.5", "-o", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.xml"), env=env)
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert {check["status"] for check in report["checks"]} <= {"pass", "warn", "fail", "skip", "error"}
    ElementTree.fromstring((tmp_path / "r.xml").read_bytes())


USER_CANARIES = {
    "DT_ENVIRONMENT_URL": "envuserCanary7",
    "DT_ACTIVEGATE_URLS": "aguserCanary7",
    "HTTPS_PROXY": "proxyuserCanary7",
    "http_proxy": "httpuserCanary7",
}


def test_user_names_in_every_url_are_hidden_alike_in_every_output(tmp_path, monkeypatch):
    """A URL's user name is half of its credentials: proxies, the environment and ActiveGates show none of it."""
    port = closed_port()
    urls = {
        "DT_ENVIRONMENT_URL": f"https://{USER_CANARIES['DT_ENVIRONMENT_URL']}:EnvPassw0rd99@127.0.0.1:{port}/e/abc",
        "DT_ACTIVEGATE_URLS": f"https://{USER_CANARIES['DT_ACTIVEGATE_URLS']}:AgPassw0rd99@ag.example.com:9999/e/abc",
        "HTTPS_PROXY": f"http://{USER_CANARIES['HTTPS_PROXY']}:ProxyPassw0rd99@127.0.0.1:{port}",
        "http_proxy": f"http://{USER_CANARIES['http_proxy']}@127.0.0.1:{port}",
    }
    for name, value in urls.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DT_API_TOKEN", CANARY_TOKEN)
    bundle, report = tmp_path / "support.zip", tmp_path / "r.html"
    run = run_cli(["check", "-f", "json", "--timeout", "0.5", "--root", str(tmp_path), "-v",
                   "--activegate", "https://cliuserCanary7@ag2.example.com:9999", "-o", str(report),
                   "--bundle", str(bundle)])
    outputs = {"stdout": run.stdout, "stderr": run.stderr, "r.html": report.read_text(encoding="utf-8")}
    with zipfile.ZipFile(bundle) as archive:
        outputs.update({name: archive.read(name).decode("utf-8") for name in archive.namelist()})
    for where, text in outputs.items():
        for user in [*USER_CANARIES.values(), "cliuserCanary7"]:
            assert user.lower() not in text.lower(), f"the user name {user} leaked into {where}"
    environment = json.loads(outputs["environment.json"])
    for name in urls:
        assert "<credentials>@" in environment[name], (name, environment[name])
    assert "<credentials>@ag2.example.com" in run.stdout  # the placeholder is never itself redacted
