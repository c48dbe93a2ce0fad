"""One real run, every consumer's view: an expiring certificate and token, and an ActiveGate whose API fails.

The checks run for real against the test servers (a fake Dynatrace behind a
certificate from a test CA); the test reads what Prometheus, Nagios and a
fleet merge would get, and compares with what the servers were set up with.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support import live_run
from tests.support.fleet_reports import run_cli


def metrics(text: str) -> dict[str, dict[tuple[str, str], float]]:
    found: dict[str, dict[tuple[str, str], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.labels.get("id", ""), sample.labels.get("target", ""))
            found.setdefault(sample.name, {})[key] = sample.value
    return found


def perfdata(nagios: str) -> dict[str, str]:
    first = nagios.splitlines()[0]
    return dict(re.findall(r"'([^']+)'=(\S+)", first.partition(" | ")[2]))


def test_expiring_certificate_and_token_reach_prometheus_nagios_and_the_fleet(tmp_path: Path) -> None:
    with live_run.lab(tmp_path / "lab", certificate_days=9.5, token_days=4.5, activegate_api_status=503) as lab:
        outputs = live_run.check(lab, tmp_path)
    environment = f"127.0.0.1:{lab.ports['environment']}"
    gateway = f"127.0.0.1:{lab.ports['activegate']}"
    assert lab.token_expires is not None

    found = metrics(outputs.text("prometheus"))
    assert found["dtdoctor_certificate_expiry_timestamp_seconds"][("tls", environment)] == (
        lab.certificate_expires.timestamp())
    assert found["dtdoctor_token_expiry_timestamp_seconds"] == {("token", "127.0.0.1"): lab.token_expires.timestamp()}
    assert found["dtdoctor_check_status"][("tls", environment)] == 1  # expiring: warn
    assert found["dtdoctor_check_status"][("token", "127.0.0.1")] == 1

    assert outputs.run.exit_code == 2  # the ActiveGate's API fails
    assert outputs.nagios.startswith("DTDOCTOR CRITICAL - ")
    perf = perfdata(outputs.nagios)
    assert perf[f"tls_{environment.replace(':', '_')}_certificate_days"] == "9;14:;0:"
    assert perf["token_127.0.0.1_token_days"] == "4;14:;0:"
    assert perf[f"tls_{gateway.replace(':', '_')}_certificate_days"] == "300;14:;0:"

    run = run_cli("merge", str(outputs.files["json"]), "-o", str(tmp_path / "fleet.json"))
    assert run.exit_code == 2, run.stderr
    fleet = json.loads((tmp_path / "fleet.json").read_text(encoding="utf-8"))
    failing = next(code for code in fleet["codes"] if code["code"] == "api.http_error")
    facts = {fact["fact"]: fact["values"] for fact in failing["shared"]}
    assert facts["HTTP status"] == [{"value": "503", "hosts": 1}]
    assert facts["endpoint"] == [{"value": gateway, "hosts": 1}]
    expiring = next(code for code in fleet["codes"] if code["code"] == "tls.expiring_soon")
    assert {fact["fact"] for fact in expiring["shared"]} >= {"certificate issuer", "certificate root"}
