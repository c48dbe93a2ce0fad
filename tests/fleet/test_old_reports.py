"""Reports written before typed evidence still merge: one adapter reads their old detail keys.

``data/broken-1.0.0.json`` is the sample report dtdoctor 1.0.0 wrote before
results carried ``evidence``; today's reports come from real runs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from dtdoctor.fleet import FleetMerger, summarize
from dtdoctor.fleet.reading import evidence_from_details, with_typed_evidence
from tests.support import live_run
from tests.support.fleet_reports import write_json

OLD_REPORT = Path(__file__).parent / "data" / "broken-1.0.0.json"


def old_report() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OLD_REPORT.read_text(encoding="utf-8"))
    return loaded


def result_of(data: dict[str, Any], check_id: str, target: str) -> dict[str, Any]:
    return next(item for item in data["checks"] if item["id"] == check_id and item["target"] == target)


def test_the_old_report_has_no_typed_evidence_but_its_details_give_it() -> None:
    data = with_typed_evidence(old_report())
    tls = result_of(data, "tls", "abc12345.live.dynatrace.com:443")["evidence"]
    assert tls["certificate_root"] == "CN=Corp TLS Inspection CA, O=Example Corp"
    assert tls["certificate_issuer"] == "CN=Corp TLS Inspection CA, O=Example Corp"
    assert tls["certificate_expires_at"] == "2026-12-21T00:00:00Z"
    assert tls["latency_ms"] == 84
    assert "token_expires_at" not in tls  # an expiry in a tls result is the certificate's
    tcp = result_of(data, "tcp", "abc12345.live.dynatrace.com:443")["evidence"]
    assert tcp == {"latency_ms": 37, "route": "proxy", "proxy": "http://proxy.corp.example.com:3128"}
    eec = result_of(data, "eec", "127.0.0.1:14499")["evidence"]
    assert eec["error"] == "ECONNREFUSED"


def test_the_old_report_merges_with_its_shared_facts(tmp_path: Path) -> None:
    merger = FleetMerger()
    for index in range(2):
        data = old_report()
        data["host"]["hostname"] = f"old-{index}"
        merger.add_file(write_json(tmp_path / f"old-{index}.json", data))
    fleet = merger.fleet().to_json()
    untrusted = next(code for code in fleet["codes"] if code["code"] == "tls.untrusted_root")
    facts = {fact["fact"]: fact["values"] for fact in untrusted["shared"]}
    assert facts["certificate root"] == [{"value": "CN=Corp TLS Inspection CA, O=Example Corp", "hosts": 2}]
    assert "proxy" not in facts  # the old tls result named no proxy in a key the adapter knows


def test_todays_report_and_its_details_alone_tell_the_same(tmp_path: Path) -> None:
    """Today's checks write the typed fields and still the details old readers knew: the adapter,
    given today's report without ``evidence``, recovers the fields merge compares."""
    with live_run.lab(tmp_path, certificate_days=10.5, scopes=("logs.ingest",)) as lab:
        today = live_run.check(lab, tmp_path).report_json
    stripped = copy.deepcopy(today)
    for item in stripped["checks"]:
        del item["evidence"]
    recovered = with_typed_evidence(stripped)
    exact = ("certificate_issuer", "certificate_root", "certificate_expires_at", "token_expires_at", "missing_scopes")
    # Details did not always hold these (tls measured no latency, the token lookup kept no HTTP status):
    # then the adapter leaves them out, and is never wrong.
    partial = ("http_status", "latency_ms", "route", "proxy")
    for typed, old in zip(today["checks"], recovered["checks"]):
        where = (typed["id"], typed["code"])
        for name in exact:
            assert old["evidence"].get(name) == typed["evidence"].get(name), (*where, name)
        for name in partial:
            assert old["evidence"].get(name) in (None, typed["evidence"].get(name)), (*where, name)
    # And the fleet sees the same problems with the same facts either way (but the HTTP status the lookup
    # kept in no detail).
    def facts(data: dict[str, Any]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        return [(problem.code, tuple(fact for fact in problem.facts if fact[0] != "HTTP status"))
                for problem in summarize(data, "report.json").problems]

    assert facts(today) == facts(recovered)
    assert any(problem.code == "token.missing_scope" for problem in summarize(today, "today.json").problems)


def test_a_report_with_evidence_is_read_as_written() -> None:
    data = {"checks": [{"id": "tls", "details": {"root": "CN=Old"}, "evidence": {"certificate_root": "CN=New"}}]}
    assert with_typed_evidence(data)["checks"][0]["evidence"] == {"certificate_root": "CN=New"}
    assert evidence_from_details("tls", "not a mapping") == {}
