""""Most common problems" counts the hosts where a code is a problem, not those that skipped it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dtdoctor.core.model import Status
from tests.support.factories import result
from tests.support.fleet_reports import host_report, problem, run_cli, write_json

CODE = "eec.unavailable_in_container"


def write_fleet(folder: Path) -> None:
    """Seven hosts share the code: one failed it, six skipped it (as the issue saw it)."""
    write_json(folder / "host-0.json", host_report("host-0", problem(CODE, target="127.0.0.1:14499"), result()))
    for index in range(1, 7):
        write_json(folder / f"host-{index}.json", host_report(
            f"host-{index}", problem(CODE, status=Status.SKIP, target="127.0.0.1:14499"), result()))


def test_the_fleet_json_counts_only_the_host_that_failed(tmp_path: Path) -> None:
    write_fleet(tmp_path / "in")
    run = run_cli("merge", str(tmp_path / "in"), "-o", str(tmp_path / "fleet.json"))
    assert run.exit_code == 2, run.stderr
    fleet = json.loads((tmp_path / "fleet.json").read_text(encoding="utf-8"))
    summary = next(item for item in fleet["codes"] if item["code"] == CODE)
    assert summary["status"] == "fail"
    assert summary["hosts"] == 1 and summary["host_names"] == ["host-0"] and summary["results"] == 1
    assert summary["statuses"] == {"fail": 1, "skip": 6}  # the whole picture stays in the JSON
    endpoint = next(fact for fact in summary["shared"] if fact["fact"] == "endpoint")
    assert endpoint["values"] == [{"value": "127.0.0.1:14499", "hosts": 1}]


def test_the_fleet_page_says_one_of_seven(tmp_path: Path) -> None:
    write_fleet(tmp_path / "in")
    run_cli("merge", str(tmp_path / "in"), "-o", str(tmp_path / "fleet.html"))
    page = (tmp_path / "fleet.html").read_text(encoding="utf-8")
    row = re.search(rf'<tr id="code-{re.escape(CODE)}">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = re.sub(r"<[^>]+>", " ", row.group(1))
    text = " ".join(cells.split())
    assert "1 of 7" in text and "7 of 7" not in text
    assert "6 more skipped it" in text
    assert "all 1" in text  # the endpoint the one failing host shows
