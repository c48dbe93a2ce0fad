"""The published JSON Schemas accept every real output, and declare every field it has.

The schema files allow fields they do not list (v1 grows by adding fields, and
readers must tolerate them); the tests validate against a strict copy, so a
field written but not declared fails here until the schema documents it.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dtdoctor.render import render
from tests.support import live_run
from tests.support.fleet_reports import run_cli, write_json
from tests.support.reports import hostile_report

REPORTS = Path(__file__).resolve().parents[2] / "reports"
OLD_REPORT = Path(__file__).resolve().parents[1] / "fleet" / "data" / "broken-1.0.0.json"


def schema(name: str) -> dict[str, Any]:
    text = (resources.files("dtdoctor") / "schemas" / name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def strict(node: Any) -> Any:
    """A copy in which every object that lists its properties allows no others."""
    if isinstance(node, dict):
        copied = {key: strict(value) for key, value in node.items()}
        if "properties" in copied and "additionalProperties" not in copied:
            copied["additionalProperties"] = False
        return copied
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def validate(instance: Any, name: str) -> None:
    checked = strict(schema(name))
    jsonschema.Draft202012Validator.check_schema(checked)
    jsonschema.Draft202012Validator(checked).validate(instance)


@pytest.fixture(scope="module")
def real_reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Real runs: a healthy one, one with an expiring certificate and token and a missing scope."""
    folder = tmp_path_factory.mktemp("runs")
    found = []
    for name, options in (("healthy", {}), ("expiring", {"certificate_days": 3.5, "token_days": 2.5,
                                                           "scopes": ("logs.ingest",)})):
        with live_run.lab(folder / name, **options) as lab:  # type: ignore[arg-type]
            found.append(live_run.check(lab, folder / name, name=name).report_json)
    return found


def test_schemas_are_valid_draft_2020_12() -> None:
    for name in ("report-v1.schema.json", "fleet-v1.schema.json"):
        jsonschema.Draft202012Validator.check_schema(schema(name))


def test_real_host_reports_match_the_report_schema(real_reports: list[dict[str, Any]]) -> None:
    for data in real_reports:
        validate(data, "report-v1.schema.json")
        assert any(item["evidence"] for item in data["checks"])


def test_the_committed_samples_and_an_old_report_match(real_reports: list[dict[str, Any]]) -> None:
    for path in [*sorted(REPORTS.glob("*.json")), OLD_REPORT]:
        validate(json.loads(path.read_text(encoding="utf-8")), "report-v1.schema.json")


def test_a_report_with_hostile_text_matches() -> None:
    validate(json.loads(render(hostile_report(), "json")), "report-v1.schema.json")


def test_a_wrongly_typed_evidence_field_is_rejected(real_reports: list[dict[str, Any]]) -> None:
    data = copy.deepcopy(real_reports[0])
    data["checks"][0]["evidence"]["http_status"] = "200"
    with pytest.raises(jsonschema.ValidationError):
        validate(data, "report-v1.schema.json")
    data["checks"][0]["evidence"] = {"status_code": 200}  # an undeclared field: the strict copy refuses it
    with pytest.raises(jsonschema.ValidationError):
        validate(data, "report-v1.schema.json")


def test_a_real_fleet_report_matches_the_fleet_schema(real_reports: list[dict[str, Any]], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for index, data in enumerate(real_reports):
        write_json(folder / f"host-{index}.json", {**data, "host": {**data["host"], "hostname": f"host-{index}"}})
    write_json(folder / "old.json", json.loads(OLD_REPORT.read_text(encoding="utf-8")))
    (folder / "junk.json").write_text("not json", encoding="utf-8")
    expect = tmp_path / "expected.txt"
    expect.write_text("host-0\nhost-1\nweb-01\nhost-9\nhost-10 unreachable switched off\n", encoding="utf-8")
    for extra in ((), ("--expect", str(expect), "--max-age", "7d")):
        run = run_cli("merge", str(folder), "-o", str(tmp_path / "fleet.json"), *extra)
        assert run.exit_code in (2, 3), run.stderr
        fleet = json.loads((tmp_path / "fleet.json").read_text(encoding="utf-8"))
        validate(fleet, "fleet-v1.schema.json")
        assert fleet["files"]["skipped"] and any(code.get("shared") for code in fleet["codes"])
    assert fleet["hosts_missing"] and fleet["hosts_stale"]
