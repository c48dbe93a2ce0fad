"""The oneagent check on fake roots with a fake ``oneagentctl`` and a real process named like OneAgent's."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from dtdoctor import host
from dtdoctor.checks import oneagent
from dtdoctor.checks.base import Finding, ProbeContext
from dtdoctor.core.model import Status
from dtdoctor.host import processes, procfs
from dtdoctor.host.local_endpoint import installation
from dtdoctor.host.processes import oneagent_processes
from tests.support.factories import context
from tests.support.fake_hosts import FakeHost, fake_host, running_program

URL = "https://abc12345.live.dynatrace.com"


def run(ctx) -> Finding:  # type: ignore[no-untyped-def]
    return oneagent.probe(ProbeContext(ctx, {}))


@contextlib.contextmanager
def oneagent_process_in(folder: Path) -> Iterator[int]:
    """A real process named ``oneagentos`` (a copy of sleep) run from ``folder``, as the watchdog would start."""
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(running_program(folder, "oneagentos"))
    try:
        deadline = time.monotonic() + 10
        while not any(found.pid == process.pid for found in oneagent_processes()[0]):
            assert time.monotonic() < deadline, f"process {process.pid} not seen as OneAgent's within 10 s"
            time.sleep(0.02)
        yield process.pid
    finally:
        process.kill()
        process.wait(5)


@pytest.fixture
def oneagent_running(tmp_path: Path) -> Iterator[int]:
    """OneAgent's process on the fake host: its executable under the host's root (``tmp_path``)."""
    with oneagent_process_in(tmp_path / "opt/dynatrace/oneagent/agent/lib64") as pid:
        yield pid


def installed_host(tmp_path: Path, **answers: str) -> FakeHost:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent({f"--{key.replace('_', '-')}": value for key, value in answers.items()})
    return built


def test_installed_and_running(tmp_path: Path, oneagent_running: int) -> None:
    built = installed_host(tmp_path)
    finding = run(context({"DT_ENVIRONMENT_URL": URL, **built.environ}, tmp_path, timeout=3))
    assert finding.code == "oneagent.installed", finding.summary
    assert finding.details["version"] == "1.321.51.20250905-075429"
    assert finding.details["monitoring_mode"] == "fullstack"
    assert finding.details["host_group"] == "production_web"
    assert finding.details["network_zone"] == "vienna.dc1"
    assert any(process["pid"] == oneagent_running for process in finding.details["processes"])
    assert "oneagentos" in finding.summary
    assert finding.details["installation"]["found_by"] == "default path"
    assert finding.details["version_source"] == "oneagentctl --version"


def test_installed_but_not_running(tmp_path: Path) -> None:
    built = installed_host(tmp_path)
    finding = run(context(built.environ, tmp_path, timeout=3))
    assert finding.code == "oneagent.not_running"
    assert "systemctl start oneagent" in (finding.remediation or oneagent.CODES["oneagent.not_running"].remediation)


def test_a_oneagent_process_outside_the_hosts_root_is_not_this_hosts(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A fake host's processes are those run from under its root: another test's (or another run's) process
    named like OneAgent's, from a temporary folder elsewhere, is neither counted nor shown."""
    built = installed_host(tmp_path)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    with oneagent_process_in(elsewhere) as pid:
        assert any(found.pid == pid for found in oneagent_processes()[0])  # the machine does run it
        finding = run(context(built.environ, tmp_path, timeout=3))
    assert finding.code == "oneagent.not_running", finding.summary
    assert finding.details["processes"] == []
    assert str(elsewhere) not in json.dumps(finding.details)


def test_proxy_mismatch_is_a_warning(tmp_path: Path, oneagent_running: int) -> None:
    built = installed_host(tmp_path, get_proxy="proxy.corp:8080")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=3))
    assert finding.code == "oneagent.proxy_mismatch"
    assert finding.details["proxy"]["oneagent_proxy"] == "proxy.corp:8080"
    assert finding.details["proxy"]["shell_proxy"] == "direct"
    same = run(context({"DT_ENVIRONMENT_URL": URL, "HTTPS_PROXY": "http://proxy.corp:8080"}, tmp_path, timeout=3))
    assert same.code == "oneagent.installed"
    assert built.environ == {}


def test_oneagents_no_proxy_list_is_used_for_its_route(tmp_path: Path, oneagent_running: int) -> None:
    # OneAgent bypasses its proxy for the environment, as this shell (no proxy) does: the same route.
    installed_host(tmp_path, get_proxy="proxy.corp:8080", get_no_proxy="localhost;.dynatrace.com")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=3))
    assert finding.code == "oneagent.installed", finding.summary
    assert finding.details["proxy"]["oneagent_no_proxy"] == ["localhost", ".dynatrace.com"]
    assert finding.details["proxy"]["oneagent_route"] == "direct (its no-proxy list: .dynatrace.com)"
    # Through the shell's proxy, the same environment now takes another route than OneAgent's.
    other = run(context({"DT_ENVIRONMENT_URL": URL, "HTTPS_PROXY": "http://proxy.corp:8080"}, tmp_path, timeout=3))
    assert other.code == "oneagent.proxy_mismatch"


def test_oneagents_server_is_reported_and_another_path_is_not_compared(tmp_path: Path, oneagent_running: int) -> None:
    installed_host(tmp_path, get_proxy="proxy.corp:8080", get_server="{https://ag.example.com:9999/communication}")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=3))
    assert finding.code == "oneagent.installed", finding.summary
    assert finding.details["server"] == ["https://ag.example.com:9999/communication"]
    assert "sends to https://ag.example.com:9999/communication" in finding.summary
    assert finding.details["proxy"]["shell_proxy"].startswith("not compared: OneAgent sends to")


def test_oneagents_proxy_password_never_shows(tmp_path: Path, oneagent_running: int) -> None:
    installed_host(tmp_path, get_proxy="http://svc:CANARYPROXYPASS@proxy.corp:8080")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=3))
    assert finding.code == "oneagent.proxy_mismatch"
    assert "CANARYPROXYPASS" not in str(finding)
    assert finding.details["proxy"]["oneagent_proxy"] == "proxy.corp:8080"


def test_oneagentctl_that_cannot_run_is_named_per_question(tmp_path: Path) -> None:
    installed_host(tmp_path)
    tool = tmp_path / "opt/dynatrace/oneagent/agent/tools/oneagentctl"
    tool.write_text("#!/bin/sh\necho 'needs root' >&2\nexit 2\n")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=1))
    assert "server" in finding.details["oneagentctl_unanswered"]
    assert any("needs root" in problem for problem in finding.details["oneagentctl_problems"])
    assert "proxy" not in finding.details  # nothing compared without OneAgent's answer


def test_discovery_mode_is_named(tmp_path: Path, oneagent_running: int) -> None:
    installed_host(tmp_path, get_monitoring_mode="discovery")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=3))
    assert "Discovery mode has no local ingest endpoint" in finding.summary


def test_not_installed_is_a_warning_when_relying_on_the_local_endpoint(tmp_path: Path) -> None:
    fake_host(tmp_path, "bare_metal")
    finding = run(context({}, tmp_path, timeout=1))
    assert finding.code == "oneagent.not_installed"
    assert finding.status is Status.WARN


def test_not_installed_is_informational_when_events_go_to_the_environment(tmp_path: Path) -> None:
    fake_host(tmp_path, "bare_metal")
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=1))
    assert finding.code == "oneagent.not_installed"
    assert finding.status is Status.SKIP


def test_not_installed_in_a_container_is_expected(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "podman")
    finding = run(context(built.environ, tmp_path, timeout=1))
    assert finding.code == "oneagent.not_installed" and finding.status is Status.SKIP
    assert "podman container" in finding.summary


def test_custom_install_path_from_the_service_definition(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent(install_path="/srv/dt/oneagent")
    found = installation(context({}, tmp_path))
    assert found.path == tmp_path / "srv/dt/oneagent"
    assert found.source == "service definition /etc/systemd/system/oneagent.service"


def test_windows_program_files(tmp_path: Path) -> None:
    (tmp_path / "Program Files" / "dynatrace" / "oneagent" / "agent").mkdir(parents=True)
    env = {"PROGRAMFILES": str(tmp_path / "Program Files")}
    found = installation(context(env, tmp_path / "empty-root"))
    assert found.installed and found.source == "PROGRAMFILES"


def test_version_from_the_installer_version_file_without_oneagentctl(tmp_path: Path, oneagent_running: int) -> None:
    built = fake_host(tmp_path, "bare_metal")
    script = built.oneagent(version_file="1.325.12.20251020-101010")
    script.chmod(0o600)  # as for a user that is not root: oneagentctl cannot run
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=1))
    assert finding.details["version"] == "1.325.12.20251020-101010"
    assert finding.details["version_source"] == "agent/installer.version"
    assert "version 1.325.12" in finding.summary


def test_oneagentctl_not_executable_says_run_as_root(tmp_path: Path) -> None:
    script = installed_host(tmp_path)
    script_path = tmp_path / "opt/dynatrace/oneagent/agent/tools/oneagentctl"
    script_path.chmod(0o600)
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=1))
    assert script is not None
    problems = finding.details["oneagentctl_problems"]
    if not any("not executable" in problem for problem in problems):  # root may execute anything with an x bit
        assert problems
    assert "version" not in finding.details


def test_macos_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "platform_name", lambda: "darwin")
    finding = run(context({}, tmp_path))
    assert finding.code == "check.unsupported"


def test_the_report_host_facts_name_where_oneagent_sends(tmp_path: Path, oneagent_running: int) -> None:
    import datetime as dt

    from dtdoctor.checks.base import Check, Probe, constant
    from dtdoctor.core.report import build_report
    from dtdoctor.core.runner import run_checks

    installed_host(tmp_path, get_server="https://ag.example.com:9999/communication")
    ctx = context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=3)
    finding = run(ctx)
    only = Check(id="oneagent", title="OneAgent", codes=oneagent.CODES,
                 plan=lambda _: [Probe("local", constant(finding))])
    results = run_checks([only], ctx)
    report = build_report(results, ctx.settings, {"hostname": "h"}, dt.datetime.now(dt.timezone.utc), 1)
    assert report.host["oneagent_server"] == ["https://ag.example.com:9999/communication"]


def test_names_are_read_from_proc_and_only_oneagents_are_described(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Linux's /proc/<pid>/comm: the first 15 bytes of the name, enough for the "oneagent" prefix.
    for pid, comm in (("4242", "oneagentnetwor\n"), ("4243", "sshd\n"), ("4244", None), ("self", "oneagentos\n")):
        (tmp_path / pid).mkdir()
        if comm is not None:
            (tmp_path / pid / "comm").write_text(comm)
    assert procfs.named(tmp_path, processes._oneagent_name) == [4242]
    if not sys.platform.startswith("linux"):
        return
    described: list[int] = []
    describe = procfs.describe
    monkeypatch.setattr(procfs, "describe", lambda proc, pid: described.append(pid) or describe(proc, pid))
    found = processes._oneagents_from_proc(tmp_path)
    assert [process.name for process in found or []] == ["oneagentnetwor"]
    assert described == [4242]  # another program's executable, user and command line are never read


def test_the_proc_names_find_the_same_process_psutil_names(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    with oneagent_process_in(tmp_path / "bin") as pid:
        named = [p.info["pid"] for p in psutil.process_iter(["pid", "name"]) if p.info["name"] == "oneagentos"]
        assert pid in named
        from_proc = procfs.named(Path("/proc"), processes._oneagent_name)
        assert pid in (named if from_proc is None else from_proc)  # no /proc elsewhere: psutil's answer
        found, note = oneagent_processes()
    mine = [process for process in found if process.pid == pid]
    assert note == "" and len(mine) == 1
    assert mine[0].name == "oneagentos" and mine[0].exe == str(tmp_path / "bin" / "oneagentos")
    assert mine[0].user  # user and executable are read for the processes named like OneAgent's


def test_where_proc_cannot_be_read_psutil_describes_the_same_process(tmp_path: Path) -> None:
    """The other path (no Linux /proc: psutil) gives the same name, executable and user as /proc."""
    pytest.importorskip("psutil")
    unreadable = tmp_path / "no-proc"
    with oneagent_process_in(tmp_path / "bin") as pid:
        via_proc = [found for found in oneagent_processes()[0] if found.pid == pid]
        via_psutil = [found for found in oneagent_processes(proc=unreadable)[0] if found.pid == pid]
    assert via_proc == via_psutil and len(via_proc) == 1
    assert via_proc[0].name == "oneagentos" and via_proc[0].exe == str(tmp_path / "bin" / "oneagentos")
