"""``dtdoctor merge``: which reports count, what the fleet JSON says, the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dtdoctor.core.model import Evidence, Status
from dtdoctor.fleet import FleetMerger, iter_report_files, merge_paths, reading, summarize
from dtdoctor.fleet import summary as fleet_summary
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN, result
from tests.support.fleet_reports import host_report, problem, real_check_report, run_cli, write_json


def merge_json(tmp_path: Path, *args: str):
    out = tmp_path / "fleet.json"
    run = run_cli("merge", *args, "-o", str(out))
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    return run, data


def test_merges_reports_from_real_runs_and_generated_ones(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    real_check_report(reports / "quiet-host.json")
    # A URL on a loopback port nothing listens on: the real pipeline reports tcp.refused.
    real_check_report(reports / "refused-host.json", {"DT_ENVIRONMENT_URL": "http://127.0.0.1:9/"})
    write_json(reports / "more" / "generated-host.json",
               host_report("generated-host", problem("tls.untrusted_root",
                                                   evidence=Evidence(certificate_root="CN=Inspecting Proxy CA"))))

    run, data = merge_json(tmp_path, str(reports), "--host-from", "file")

    assert run.exit_code == 2, run.stderr
    assert sorted(host["host"] for host in data["hosts"]) == ["generated-host", "quiet-host", "refused-host"]
    by_host = {host["host"]: host for host in data["hosts"]}
    assert by_host["refused-host"]["status"] == "fail"
    assert "tcp.refused" in {item["code"] for item in by_host["refused-host"]["problems"]}
    assert by_host["quiet-host"]["status"] == "skip"
    assert data["hosts"][0]["status"] == "fail"  # worst first
    assert data["files"]["read"] == 3 and data["files"]["skipped"] == []
    assert "merged 3 hosts from 3 files" in run.stdout


def test_real_reports_of_one_machine_are_one_host_by_reported_hostname(tmp_path: Path) -> None:
    first = real_check_report(tmp_path / "r" / "first.json")
    second = real_check_report(tmp_path / "r" / "second.json", {"DT_ENVIRONMENT_URL": "http://127.0.0.1:9/"})
    assert first["host"]["hostname"] == second["host"]["hostname"]

    run, data = merge_json(tmp_path, str(tmp_path / "r"))

    assert data["hosts_total"] == 1
    assert data["files"]["superseded"] == 1
    assert run.exit_code in (0, 2)


def test_the_newest_report_per_host_wins_whatever_the_order(tmp_path: Path) -> None:
    old = write_json(tmp_path / "b-old.json", host_report("web-01", problem("tcp.timeout"),
                                                          generated_at="2026-11-20T08:00:00Z"))
    new = write_json(tmp_path / "a-new.json", host_report("web-01", generated_at="2026-11-22T08:00:00+00:00"))
    for order in ((old, new), (new, old)):
        fleet = merge_paths(order)
        assert [host.host for host in fleet.hosts] == ["web-01"]
        assert fleet.hosts[0].status is Status.PASS
        assert fleet.hosts[0].source == str(new)
        assert fleet.superseded == 1
        assert int(fleet.exit_code) == 0


def test_foreign_and_unreadable_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_json(folder / "good.json", host_report("web-01"))
    write_json(folder / "package.json", {"name": "not-a-report"})
    write_json(folder / "list.json", [1, 2, 3])
    (folder / "garbage.json").write_bytes(b"\x00\xff not json")
    (folder / "dangling.json").symlink_to(folder / "missing-target.json")
    write_json(folder / "broken.json", {"schema": "dtdoctor.report/v1", "host": {"hostname": "x"},
                                        "checks": [{"id": "tcp", "status": "sideways", "code": "tcp.open"}]})
    (folder / "notes.txt").write_text("not even looked at")

    run, data = merge_json(tmp_path, str(folder))

    assert run.exit_code == 1  # the fleet passes, but files were skipped
    assert [host["host"] for host in data["hosts"]] == ["web-01"]
    skipped = {Path(item["path"]).name: item["reason"] for item in data["files"]["skipped"]}
    assert set(skipped) == {"package.json", "list.json", "garbage.json", "dangling.json", "broken.json"}
    assert "no \"schema\" field" in skipped["package.json"]
    assert skipped["garbage.json"].startswith("not JSON")
    assert skipped["dangling.json"].startswith("unreadable")
    assert "malformed report" in skipped["broken.json"]
    warnings = [line for line in run.stderr.splitlines() if line]
    assert len(warnings) == 5
    assert all(line.startswith("dtdoctor: warning: skipped ") for line in warnings)


def test_a_fleet_report_given_as_input_is_skipped_and_named(tmp_path: Path) -> None:
    write_json(tmp_path / "in" / "web-01.json", host_report("web-01"))
    merge_json(tmp_path, str(tmp_path / "in"))
    run = run_cli("merge", str(tmp_path / "in"), str(tmp_path / "fleet.json"), "-o", str(tmp_path / "again.json"))
    assert run.exit_code == 1
    assert "a fleet report, not a host report" in run.stderr


def test_a_report_of_a_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_json(folder / "web-01.json", host_report("web-01"))
    future = host_report("web-02")
    future["schema"] = "dtdoctor.report/v2"
    write_json(folder / "web-02.json", future)

    run, data = merge_json(tmp_path, str(folder))

    assert run.exit_code == 3  # the fleet verdict is incomplete
    assert "refused" in run.stderr and "web-02.json" in run.stderr
    assert "dtdoctor.report/v2" in run.stderr and "newer dtdoctor" in run.stderr
    assert [host["host"] for host in data["hosts"]] == ["web-01"]  # the rest is still merged and written
    assert Path(data["files"]["refused"][0]["path"]).name == "web-02.json"


def test_fleet_json_counts_codes_hosts_and_shared_facts(tmp_path: Path) -> None:
    proxy_root = "CN=Corp Inspecting Proxy Root CA"
    folder = tmp_path / "in"
    for index in range(3):
        write_json(folder / f"dmz-{index}.json", host_report(
            f"dmz-{index}",
            problem("tls.untrusted_root", evidence=Evidence(certificate_root=proxy_root), chain=[{"subject": "x"}]),
            problem("tcp.timeout", target="ag.example.com:9999", attempts=[{"address": "10.0.0.1"}]),
            result(),
        ))
    write_json(folder / "app-1.json", host_report(
        "app-1",
        problem("token.missing_scope", target="abc12345.live.dynatrace.com",
                evidence=Evidence(missing_scopes=("events.ingest",))),
        problem("tls.untrusted_root", evidence=Evidence(certificate_root="CN=Other Root")),
    ))
    write_json(folder / "app-2.json", host_report(
        "app-2", problem("tls.expiring_soon", status=Status.WARN), result(), result(target="ag.example.com:9999")))
    write_json(folder / "app-3.json", host_report("app-3"))

    run, data = merge_json(tmp_path, str(folder))

    assert run.exit_code == 2
    assert data["schema"] == "dtdoctor.fleet/v1"
    assert data["status"] == "fail" and data["exit_code"] == 2
    assert data["counts"]["hosts"] == {"pass": 1, "warn": 1, "fail": 4, "skip": 0, "error": 0}
    assert data["counts"]["results"]["fail"] == 3 * 2 + 2
    assert data["statuses"]["warn"]["host_names"] == ["app-2"]
    codes = {item["code"]: item for item in data["codes"]}
    assert data["codes"][0]["code"] == "tls.untrusted_root"  # the problem most hosts share comes first
    untrusted = codes["tls.untrusted_root"]
    assert untrusted["hosts"] == 4 and untrusted["results"] == 4
    assert sorted(untrusted["host_names"]) == ["app-1", "dmz-0", "dmz-1", "dmz-2"]
    facts = {fact["fact"]: fact for fact in untrusted["shared"]}
    assert facts["certificate root"]["values"][0] == {"value": proxy_root, "hosts": 3}
    assert facts["certificate root"]["hosts_with_fact"] == 4
    timeout = {fact["fact"]: fact for fact in codes["tcp.timeout"]["shared"]}
    assert timeout["endpoint"]["values"] == [{"value": "ag.example.com:9999", "hosts": 3}]
    scope = {fact["fact"]: fact for fact in codes["token.missing_scope"]["shared"]}
    assert scope["missing scope"]["values"] == [{"value": "events.ingest", "hosts": 1}]
    assert codes["tcp.open"]["status"] == "pass" and codes["tcp.open"]["hosts"] == 5
    assert codes["tcp.open"]["results"] == 6  # app-2 has it twice
    assert "shared" not in codes["tcp.open"]
    assert codes["tls.expiring_soon"]["status"] == "warn"
    app1 = next(host for host in data["hosts"] if host["host"] == "app-1")
    assert app1["families"] == {"token": "fail", "tls": "fail"}
    assert app1["exit_code"] == 2


def test_shared_facts_cope_with_missing_and_odd_details(tmp_path: Path) -> None:
    odd = host_report("odd", problem("tls.untrusted_root", target="-"))
    odd["checks"][0]["details"] = "not a mapping"
    odd["checks"].append({"id": "api", "status": "error", "code": "api.timeout"})  # no target, summary, details
    write_json(tmp_path / "odd.json", odd)
    fleet = merge_paths([tmp_path / "odd.json"])
    codes = {item.code: item for item in fleet.codes()}
    assert codes["tls.untrusted_root"].shared == ()
    assert codes["api.timeout"].status is Status.ERROR
    assert int(fleet.exit_code) == 3


@pytest.mark.parametrize(
    ("statuses", "extra", "expected"),
    [
        ((Status.PASS, Status.SKIP), (), 0),
        ((Status.PASS, Status.WARN), (), 1),
        ((Status.PASS, Status.WARN), ("--warn-ok",), 0),
        ((Status.WARN, Status.FAIL), (), 2),
        ((Status.FAIL, Status.ERROR), (), 3),
    ],
)
def test_exit_code_is_the_worst_status_across_the_fleet(tmp_path: Path, statuses, extra, expected) -> None:
    for index, status in enumerate(statuses):
        write_json(tmp_path / "in" / f"h{index}.json",
                   host_report(f"h{index}", result(status=status, code=f"tcp.{status.value}")))
    run = run_cli("merge", str(tmp_path / "in"), "-o", str(tmp_path / "fleet.json"), *extra)
    assert run.exit_code == expected
    assert json.loads((tmp_path / "fleet.json").read_text())["exit_code"] == expected


def test_usage_errors_are_one_line_and_exit_3(tmp_path: Path) -> None:
    write_json(tmp_path / "in" / "h.json", host_report("h"))
    bad_suffix = run_cli("merge", str(tmp_path / "in"), "-o", str(tmp_path / "fleet.txt"))
    missing = run_cli("merge", str(tmp_path / "nowhere"), "-o", str(tmp_path / "fleet.json"))
    nothing = run_cli("merge", str(tmp_path / "in" / "h.json"), str(tmp_path / "in"), "-o",
                      str(tmp_path / "no-folder" / "fleet.json"))
    write_json(tmp_path / "empty" / "package.json", {"name": "x"})
    empty = run_cli("merge", str(tmp_path / "empty"), "-o", str(tmp_path / "fleet.json"))
    for run in (bad_suffix, missing, nothing, empty):
        assert run.exit_code == 3
        errors = [line for line in run.stderr.splitlines() if line.startswith("dtdoctor: error:")]
        assert len(errors) == 1, run.stderr
        assert "Traceback" not in run.stderr
    assert "(use .htm, .html, .json)" in bad_suffix.stderr
    assert "no dtdoctor host reports" in empty.stderr
    assert not (tmp_path / "fleet.json").exists()


def test_summary_keeps_only_what_the_fleet_view_needs(tmp_path: Path) -> None:
    many = [problem("tcp.timeout", target=f"ag{index}.example.com:9999", attempts=["x" * 100_000])
            for index in range(fleet_summary.MAX_PROBLEMS_PER_HOST + 7)]
    data = host_report("big", *many)
    data["checks"][0]["summary"] = "s" * 10_000
    data["checks"][0]["details"]["root_subject"] = "r" * 10_000
    summary = summarize(data, "big.json")
    assert len(summary.problems) == fleet_summary.MAX_PROBLEMS_PER_HOST
    assert summary.problems_omitted == 7
    assert summary.counts["fail"] == fleet_summary.MAX_PROBLEMS_PER_HOST + 7
    assert all(len(problem.summary) <= fleet_summary.MAX_TEXT for problem in summary.problems)
    assert all(len(value) <= fleet_summary.MAX_TEXT for problem in summary.problems for _, value in problem.facts)
    assert not hasattr(summary, "details")


def test_files_too_large_for_a_report_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "MAX_REPORT_BYTES", 2000)
    write_json(tmp_path / "in" / "small.json", host_report("small"))
    write_json(tmp_path / "in" / "huge.json", host_report("huge", problem("tcp.timeout", blob="x" * 5000)))
    merger = FleetMerger()
    merger.add_paths([tmp_path / "in"])
    assert list(merger.hosts) == ["small"]
    assert "too large" in merger.skipped[0].reason


def test_a_token_in_a_report_never_reaches_the_fleet_report(tmp_path: Path) -> None:
    leaky = host_report("leaky", problem("api.http_error", status=Status.FAIL, error=f"server said {CANARY_TOKEN}"))
    leaky["checks"][0]["summary"] = f"echoed {CANARY_TOKEN}"
    write_json(tmp_path / "in" / "leaky.json", leaky)
    for name in ("fleet.json", "fleet.html"):
        run = run_cli("merge", str(tmp_path / "in"), "-o", str(tmp_path / name))
        assert run.exit_code == 2
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert CANARY_SECRET not in text and CANARY_SECRET[:12] not in text
        assert CANARY_SECRET not in run.stdout + run.stderr


def test_parallel_parsing_gives_the_same_fleet_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "in"
    for index in range(40):
        chosen = problem("tcp.timeout", target=f"ag{index % 3}.example.com:9999") if index % 4 else result()
        write_json(folder / f"g{index % 5}" / f"h{index:02d}.json", host_report(f"h{index:02d}", chosen))
    write_json(folder / "h07-again.json", host_report("h07", generated_at="2026-11-23T00:00:00Z"))
    (folder / "junk.json").write_text("{", encoding="utf-8")
    serial = merge_paths([folder])
    monkeypatch.setattr(reading, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(reading, "CHUNK_FILES", 3)
    monkeypatch.setattr(reading.os, "cpu_count", lambda: 2)
    parallel = merge_paths([folder])
    assert parallel.to_json() | {"generated_at": ""} == serial.to_json() | {"generated_at": ""}
    assert len(parallel.hosts) == 40 and parallel.superseded == 1 and len(parallel.skipped) == 1


def test_folders_are_walked_once_in_order_skipping_hidden_files_and_loops(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    write_json(folder / "b" / "h2.json", host_report("h2"))
    write_json(folder / "a" / "h1.JSON", host_report("h1"))
    write_json(folder / ".cache" / "h3.json", host_report("h3"))
    write_json(folder / ".h4.json", host_report("h4"))
    (folder / "b" / "loop").symlink_to(folder)
    files = list(iter_report_files([folder, folder / "a"]))
    assert [Path(path).name for path in files] == ["h1.JSON", "h2.json"]


def test_host_names_can_come_from_file_or_folder_names(tmp_path: Path) -> None:
    # Two machines that both call themselves "localhost", collected per node.
    write_json(tmp_path / "in" / "node-a" / "report.json", host_report("localhost", problem("tcp.timeout")))
    write_json(tmp_path / "in" / "node-b" / "report.json", host_report("localhost"))
    by_report = merge_paths([tmp_path / "in"])
    by_parent = merge_paths([tmp_path / "in"], host_from="parent")
    by_file = merge_paths([tmp_path / "in" / "node-a" / "report.json"], host_from="file")
    assert [host.host for host in by_report.hosts] == ["localhost"] and by_report.superseded == 1
    assert [host.host for host in by_parent.hosts] == ["node-a", "node-b"]
    assert by_parent.hosts[0].reported_hostname == "localhost"
    assert [host.host for host in by_file.hosts] == ["report"]
    assert by_parent.to_json()["hosts"][0]["hostname"] == "localhost"


def test_a_fifo_named_like_a_report_is_skipped_not_waited_on(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "in"
    write_json(folder / "good.json", host_report("good"))
    os.mkfifo(folder / "pipe.json")  # open() on it would block until a writer came
    merger = FleetMerger()
    merger.add_paths([folder, folder / "pipe.json"])
    assert list(merger.hosts) == ["good"]
    assert [item.reason for item in merger.skipped] == ["not a regular file"]  # found and given: one file


@pytest.mark.parametrize("schema", ["dtdoctor.report/v" + "9" * 5000, "dtdoctor.report/v²"])
def test_a_schema_version_that_is_not_a_small_number_is_skipped(tmp_path: Path, schema: str) -> None:
    data = host_report("odd")
    data["schema"] = schema
    write_json(tmp_path / "in" / "odd.json", data)
    write_json(tmp_path / "in" / "good.json", host_report("good"))
    merger = FleetMerger()
    merger.add_paths([tmp_path / "in"])
    assert list(merger.hosts) == ["good"]
    assert "not a dtdoctor host report" in merger.skipped[0].reason


def test_the_same_report_given_twice_or_copied_is_one_report_not_an_older_one(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    real_check_report(folder / "web-01.json")
    copy = folder / "copies" / "web-01.json"
    copy.parent.mkdir()
    copy.write_bytes((folder / "web-01.json").read_bytes())  # collected twice: the same bytes

    run, data = merge_json(tmp_path, str(folder / "web-01.json"), str(folder / "web-01.json"), str(folder))

    assert data["hosts_total"] == 1
    assert data["files"]["read"] == 2  # the file given twice (and found in the folder) is read once
    assert data["files"]["duplicates"] == 1  # the copy is the same report, not an older one
    assert data["files"]["superseded"] == 0
    assert "superseded" not in run.stdout and "1 duplicate" in run.stdout


def test_an_older_report_of_the_same_host_is_still_superseded_next_to_a_duplicate(tmp_path: Path) -> None:
    old = write_json(tmp_path / "old.json", host_report("web-01", problem("tcp.timeout"),
                                                        generated_at="2026-11-20T08:00:00Z"))
    new = write_json(tmp_path / "new.json", host_report("web-01", generated_at="2026-11-22T08:00:00Z"))
    (tmp_path / "new-copy.json").write_bytes(new.read_bytes())
    fleet = merge_paths([new, old, tmp_path / "new-copy.json"])
    assert fleet.superseded == 1 and fleet.duplicates == 1
    assert fleet.hosts[0].source == str(new) and fleet.hosts[0].status is Status.PASS


@pytest.mark.parametrize("order", [(0, 1, 2), (1, 0, 2), (2, 0, 1), (1, 2, 0)])
def test_a_copy_of_an_older_report_is_a_duplicate_in_whatever_order_the_files_come(tmp_path: Path, order) -> None:
    old = write_json(tmp_path / "old.json", host_report("web-01", problem("tcp.timeout"),
                                                        generated_at="2026-11-20T08:00:00Z"))
    new = write_json(tmp_path / "new.json", host_report("web-01", generated_at="2026-11-22T08:00:00Z"))
    (tmp_path / "old-copy.json").write_bytes(old.read_bytes())
    files = [old, tmp_path / "old-copy.json", new]
    fleet = merge_paths([files[index] for index in order])
    assert (fleet.superseded, fleet.duplicates) == (1, 1)
    assert fleet.hosts[0].source == str(new)
