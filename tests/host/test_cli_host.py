"""End to end through the CLI: fake roots, a real loopback port, JSON codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from dtdoctor.cli import cli
from tests.support.fake_eec import http_server
from tests.support.fake_hosts import fake_host
from tests.support.listeners import closed_port


def check(*arguments: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    runner = CliRunner()
    outcome = runner.invoke(cli, ["check", "-f", "json", "--timeout", "1", *arguments], env=env)
    return outcome.exit_code, json.loads(outcome.output)


def codes(report: dict[str, object]) -> dict[str, str]:
    return {item["id"]: item["code"] for item in report["checks"]}  # type: ignore[index,union-attr]


def test_docker_container_without_endpoint(tmp_path: Path) -> None:
    fake_host(tmp_path, "docker_cgroup_v1")
    exit_code, report = check("--root", str(tmp_path), "--eec-port", str(closed_port()), "--only", "container,eec")
    assert codes(report) == {"container": "container.docker", "eec": "eec.unavailable_in_container"}
    assert report["host"]["container"] == "docker"  # type: ignore[index]
    assert exit_code == 2


def test_bare_metal_with_a_listening_endpoint(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent()
    with http_server("EEC") as port:
        exit_code, report = check("--root", str(tmp_path), "--eec-port", str(port), "--only", "container,eec")
    assert codes(report) == {"container": "container.none", "eec": "eec.listening"}
    assert report["host"]["container"] is None  # type: ignore[index]
    eec_result = next(item for item in report["checks"] if item["id"] == "eec")  # type: ignore[union-attr]
    assert eec_result["target"] == f"127.0.0.1:{port}"
    assert exit_code == 0


def test_kubernetes_pod_reports_kubernetes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = fake_host(tmp_path, "kubernetes")
    exit_code, report = check("--root", str(tmp_path), "--only", "container,oneagent", env=built.environ)
    assert codes(report) == {"container": "container.kubernetes", "oneagent": "oneagent.not_installed"}
    container_result = report["checks"][0]  # type: ignore[index]
    assert container_result["details"]["underlying_runtime"] == "containerd"
    assert exit_code == 0  # not installed in a container is expected: skip


def test_this_machine(tmp_path: Path) -> None:
    """The real root: whatever this machine is, the check says it with evidence, never crashes."""
    exit_code, report = check("--only", "container,oneagent,eec", "--eec-port", str(closed_port()))
    results = {item["id"]: item for item in report["checks"]}  # type: ignore[union-attr]
    assert results["container"]["status"] == "pass"
    assert results["container"]["details"]["evidence"]
    assert exit_code in (0, 1, 2)
    if Path("/.dockerenv").exists():
        assert results["container"]["code"] == "container.docker"
        weak = results["container"]["details"]["weak_evidence_only"]
        assert results["eec"]["code"] == ("eec.not_listening" if weak else "eec.unavailable_in_container")


def test_container_with_an_environment_url_skips_the_local_endpoint(tmp_path: Path) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 14499)) == 0:
            pytest.skip("something listens on the default port 14499 on this machine")
    fake_host(tmp_path, "podman")
    exit_code, report = check(
        "--root", str(tmp_path), "--url", "https://abc12345.live.dynatrace.com", "--only", "container,eec,oneagent",
        env={"DT_EEC_PORT": ""},
    )
    results = {item["id"]: item for item in report["checks"]}  # type: ignore[union-attr]
    assert results["container"]["code"] == "container.podman"
    assert results["eec"]["code"] == "eec.unavailable_in_container"
    assert results["eec"]["status"] == "skip"
    assert "/e/abc12345/api/v2/events/ingest" in results["eec"]["remediation"]
    assert results["oneagent"]["status"] == "skip"
    assert exit_code == 0


def test_windows_reports_container_detection_as_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dtdoctor import host

    monkeypatch.setattr(host, "platform_name", lambda: "win32")
    exit_code, report = check("--root", str(tmp_path), "--only", "container")
    assert codes(report) == {"container": "check.unsupported"}
    assert report["checks"][0]["status"] == "skip"  # type: ignore[index]
    assert "win32" in report["checks"][0]["summary"]  # type: ignore[index]
    assert exit_code == 0


def test_dockerenv_alone_judges_the_endpoint_as_on_a_host_and_says_it_cannot_tell(tmp_path: Path) -> None:
    """/.dockerenv is weak evidence: eec and oneagent must not claim a container, nor advise only an ActiveGate."""
    fake_host(tmp_path, "dockerenv_only")
    exit_code, report = check("--root", str(tmp_path), "--eec-port", str(closed_port()),
                              "--only", "container,oneagent,eec")
    results = {item["id"]: item for item in report["checks"]}  # type: ignore[union-attr]
    assert results["container"]["code"] == "container.docker"
    assert results["container"]["details"]["weak_evidence_only"] is True
    eec_result = results["eec"]
    assert eec_result["code"] == "eec.not_listening"  # checked as on a host
    assert eec_result["status"] == "fail"  # --eec-port given, nothing listens: proven either way
    assert "this is a docker container" not in eec_result["summary"]
    assert "/.dockerenv" in eec_result["summary"] and "cannot tell" in eec_result["summary"]
    assert "Install OneAgent" in eec_result["remediation"]  # the host's steps ...
    assert "https://<activegate>:9999/e/<env-id>/api/v2/events/ingest" in eec_result["remediation"]  # ... and if not
    assert eec_result["details"]["container"] == "docker"
    assert eec_result["details"]["container_evidence"] == {"strength": "weak", "sources": ["/.dockerenv"]}
    oneagent_result = results["oneagent"]
    assert "this is a docker container" not in oneagent_result["summary"]
    assert "cannot tell" in oneagent_result["summary"]
    assert oneagent_result["status"] == "warn"  # relied on, as on a host
    assert exit_code == 2


def test_dockerenv_alone_with_an_environment_url_is_not_a_failure(tmp_path: Path) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 14499)) == 0:
            pytest.skip("something listens on the default port 14499 on this machine")
    fake_host(tmp_path, "dockerenv_only")
    exit_code, report = check("--root", str(tmp_path), "--url", "https://abc12345.live.dynatrace.com",
                              "--only", "container,oneagent,eec", env={"DT_EEC_PORT": ""})
    results = {item["id"]: item for item in report["checks"]}  # type: ignore[union-attr]
    assert results["eec"]["code"] == "eec.not_listening" and results["eec"]["status"] == "skip"
    assert results["oneagent"]["status"] == "skip"
    assert exit_code == 0
