"""Prometheus: promtool accepts every .prom file, node_exporter's textfile collector serves it."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Iterator

from tests.reports.consumers.conftest import need_program
from tests.support.fake_dynatrace import free_port


def test_promtool_accepts_every_file(outputs):
    promtool = need_program("promtool", what="promtool (Debian package prometheus)")
    for run in outputs.runs:
        path = outputs.file(run, ".prom")
        completed = subprocess.run([promtool, "check", "metrics"], input=path.read_bytes(), capture_output=True,
                                   timeout=60, check=False)
        problems = (completed.stdout + completed.stderr).decode(errors="replace")
        assert completed.returncode == 0 and not problems.strip(), f"{run}.prom: {problems}"


@contextlib.contextmanager
def node_exporter(program: str, textfiles: Path) -> Iterator[str]:
    """node_exporter on a loopback port with only the textfile collector; yields its /metrics URL."""
    port = free_port()
    process = subprocess.Popen(
        [program, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.textfile", f"--collector.textfile.directory={textfiles}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"node_exporter did not start: {process.stderr.read()!r}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def scrape(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = value
    return samples


def test_node_exporter_textfile_collector_serves_every_file(outputs, tmp_path):
    program = need_program("prometheus-node-exporter", "node_exporter",
                           what="node_exporter (Debian package prometheus-node-exporter)")
    for run in outputs.runs:
        folder = tmp_path / run
        folder.mkdir()
        (folder / "dtdoctor.prom").write_bytes(outputs.file(run, ".prom").read_bytes())
        with node_exporter(program, folder) as url:
            samples = scrape(url)
        assert samples.get("node_textfile_scrape_error") == "0", f"{run}.prom was refused"
        assert samples.get("dtdoctor_exit_code") == str(outputs.exit_codes[run]), run
        assert any(name.startswith("dtdoctor_check_") for name in samples), run
