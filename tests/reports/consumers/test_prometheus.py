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
    """node_exporter on a loopback port with only the textfile collector; yields its /metrics URL.

    A port found free can be taken by another program before node_exporter binds it, which then exits
    while the other program answers on the port: so the port counts once node_exporter itself holds its
    listening socket, and a node_exporter that could not bind is started again on another port.
    """
    failures: list[str] = []
    for _ in range(3):
        port = free_port()
        process = subprocess.Popen(
            [program, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
             "--collector.textfile", f"--collector.textfile.directory={textfiles}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            if holds_port(process, port):
                yield f"http://127.0.0.1:{port}/metrics"
                return
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=10)
        failures.append(f"port {port}: exit {process.returncode}: {stderr[-500:]!r}")
    raise AssertionError(f"node_exporter did not start: {failures}")


def holds_port(process: subprocess.Popen[bytes], port: int, limit: float = 20) -> bool:
    """Whether ``process`` comes to hold the listening socket on ``port``; False once it has ended."""
    from dtdoctor.host.processes import listener_owner

    deadline = time.monotonic() + limit
    while process.poll() is None:
        owner = listener_owner(port)
        if owner.process is not None and owner.process.pid == process.pid:
            return True
        assert time.monotonic() < deadline, f"node_exporter is running but not listening on {port} after {limit} s"
        time.sleep(0.1)
    return False


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
