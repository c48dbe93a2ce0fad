"""The sample generator and the renderer benchmark run with one command each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dtdoctor.core.model import Report
from tests.support import samples

ROOT = Path(__file__).resolve().parents[2]


def test_samples_cover_every_family_and_round_trip(tmp_path):
    written = samples.write_samples(tmp_path)
    assert sorted(path.name for path in written) == ["broken.html", "broken.json", "healthy.html", "healthy.json"]
    families = {"config.url", "config.token", "dns", "tcp", "tls", "truststore", "clock", "proxy", "api",
                "activegate", "token", "eec", "oneagent", "container"}
    for name in ("healthy", "broken"):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert {item["id"] for item in data["checks"]} == families
        assert Report.from_json(data).to_json()["checks"] == data["checks"]
    assert json.loads((tmp_path / "healthy.json").read_text())["exit_code"] == 0
    assert json.loads((tmp_path / "broken.json").read_text())["exit_code"] == 2


def test_many_results_has_unique_keys():
    report = samples.many_results(50)
    assert len(report.checks) == 50
    assert len({(item.id, item.target) for item in report.checks}) == 50


def test_sample_command_writes_into_a_folder(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "tests.support.samples", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert completed.stdout.count(str(tmp_path)) == 4


def test_benchmark_meets_its_targets():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render.py"), "--repeat", "3"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert "HTML < 200 KB: yes" in completed.stdout
    assert completed.returncode == 0, completed.stdout
