"""Through the real command line: JSON codes of the tls family, secrets absent."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dtdoctor.cli import cli
from tests.support.connect_proxy import connect_proxy
from tests.support.tls_servers import Authority, tls_server

PASSWORD = "CliProxyPassw0rd"


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, dict]:
    outcome = CliRunner().invoke(cli, args, env=env)
    return outcome.exit_code, json.loads(outcome.stdout)


def test_cli_json_reports_the_tls_family(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        code, report = invoke(
            ["check", "--url", f"https://127.0.0.1:{port}", "--ca-bundle", str(root_file),
             "--only", "tls,truststore,clock,proxy", "--timeout", "2", "-f", "json"]
        )
    codes = {(check["id"], check["target"]): check["code"] for check in report["checks"]}
    assert codes[("tls", f"127.0.0.1:{port}")] == "tls.ok"
    assert codes[("clock", "127.0.0.1")] == "clock.ok"
    assert codes[("proxy", "-")] == "proxy.none"
    # The machine's own store: its content decides (see test_truststore for each verdict).
    assert codes[("truststore", "local")] in ("truststore.ok", "truststore.outdated", "truststore.stale")
    truststore_results = [c for c in report["checks"] if c["id"] == "truststore"]
    assert [c["target"] for c in truststore_results] == ["local"]
    stores = truststore_results[0]["details"]["stores"]
    assert list(stores) == [f"127.0.0.1:{port}"]
    assert (stores[f"127.0.0.1:{port}"]["system"], stores[f"127.0.0.1:{port}"]["certifi"]) == ("trusted", "trusted")
    assert truststore_results[0]["depends_on"] == ["tls"]
    tls_check = next(c for c in report["checks"] if c["id"] == "tls")
    assert tls_check["depends_on"] == []  # its route is tcp (no proxy applies), which was not selected
    assert code in (0, 1)


def test_cli_untrusted_root_through_an_authenticating_proxy(root: Authority) -> None:
    leaf = root.issue("tenant.dtdoctor.test")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port, connect_proxy(("ops", PASSWORD)) as proxy_port:
        code, report = invoke(
            ["check", "--url", f"https://tenant.dtdoctor.test:{port}", "--only", "tls,proxy", "--timeout", "2",
             "-f", "json"],
            env={"HTTPS_PROXY": f"http://ops:{PASSWORD}@127.0.0.1:{proxy_port}"},
        )
    codes = {check["id"]: check["code"] for check in report["checks"]}
    # The server sends its leaf only: a private root that signed it directly looks like a missing intermediate.
    assert codes == {"proxy": "proxy.ok", "tls": "tls.unknown_issuer"}
    assert code == 2
    assert PASSWORD not in json.dumps(report)


def test_proxy_passwords_from_the_environment_are_redacted() -> None:
    from dtdoctor.app import register_secrets
    from dtdoctor.redact import Redactor
    from tests.support.factories import settings

    redactor = Redactor()
    environ = {"HTTPS_PROXY": f"http://ops:{PASSWORD}@proxy.corp:3128", "http_proxy": "http://proxy.corp:3128"}
    register_secrets(settings(environ), redactor, environ)
    assert PASSWORD not in redactor.scrub(f"echoed back: {PASSWORD}")


def test_control_characters_in_a_certificate_never_reach_the_terminal() -> None:
    """A MITM's certificate names are text from an attacker: escape sequences are shown, never acted on."""
    hostile = Authority("Evil\x1b]0;pwned\x07\x1b[2J\r\nFAKE all good\u202e", organization="O\x9b31m")
    leaf = hostile.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        outcome = CliRunner().invoke(
            cli, ["check", "--url", f"https://127.0.0.1:{port}", "--only", "tls", "-v", "--no-color"]
        )
    assert outcome.exit_code == 2
    assert not any(char in outcome.stdout for char in "\x1b\x07\r\x9b\u202e")
    assert "Evil\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x0aFAKE all good\\u202e" in outcome.stdout
    assert not any(line.startswith("FAKE") for line in outcome.stdout.splitlines())
