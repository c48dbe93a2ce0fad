"""The sample generator and the renderer benchmark run with one command each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dtdoctor.core.model import Report
from tests.support import samples

ROOT = Path(__file__).resolve().parents[2]


def test_samples_come_from_real_runs_and_round_trip(tmp_path):
    written = samples.write_samples(tmp_path)
    assert sorted(path.name for path in written) == ["broken.html", "broken.json", "healthy.html", "healthy.json"]
    # Every family but truststore (it judges this machine's own store); eec only where nothing listens.
    families = {"config.url", "config.token", "dns", "tcp", "tls", "clock", "proxy", "api", "activegate", "token",
                "oneagent", "container"}
    for name, extra in (("healthy", set()), ("broken", {"eec"})):
        data = json.loads((tmp_path / f"{name}.json").read_text())
        assert {item["id"] for item in data["checks"]} == families | extra
        assert Report.from_json(data).to_json()["checks"] == data["checks"]
        assert data["host"]["hostname"] == "web-01" and "/tmp" not in json.dumps(data)
    assert json.loads((tmp_path / "healthy.json").read_text())["exit_code"] == 0
    assert json.loads((tmp_path / "broken.json").read_text())["exit_code"] == 2


def test_many_results_has_unique_keys():
    report = samples.many_results(50)
    assert len(report.checks) == 50
    assert len({(item.id, item.target) for item in report.checks}) == 50


def test_sample_command_writes_into_a_folder_and_keeps_current_samples(tmp_path):
    def run() -> str:
        return subprocess.run([sys.executable, "-m", "tests.support.samples", "--out", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, check=True).stdout

    assert run().count(str(tmp_path)) == 4
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert "every sample is current" in run()  # a second real run differs only in times, ports and keys
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_the_shape_ignores_numbers_and_keys_but_not_words():
    one = '<p>tcp 127.0.0.1:4711 in 3 ms, sha256 AB:CD:EF:01:23:45:67:89:AA, serial 5A3F00C1D2E3F4</p>'
    other = '<p>tcp 127.0.0.1:39001 in 12 ms, sha256 01:02:03:04:05:06:07:08:FF, serial 77AA00C1D2E3F499</p>'
    assert samples.shape(one) == samples.shape(other)
    assert samples.shape(one) != samples.shape(one.replace("tcp", "tls"))


def test_benchmark_meets_its_targets():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "render.py"), "--repeat", "3"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert "HTML < 200 KB: yes" in completed.stdout
    assert completed.returncode == 0, completed.stdout
