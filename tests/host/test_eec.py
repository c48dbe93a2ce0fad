"""The eec check against real loopback listeners: the EEC, another HTTP server, a banner, a closed port."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dtdoctor import host
from dtdoctor.checks import eec
from dtdoctor.checks.base import ProbeContext
from dtdoctor.core.model import Status
from dtdoctor.host.local_endpoint import eec_port, eec_target
from dtdoctor.host.processes import Owner, ProcessInfo, listener_owner
from tests.support.factories import context
from tests.support.fake_eec import http_server
from tests.support.fake_hosts import fake_host
from tests.support.hostile_servers import endless_header, scripted_server
from tests.support.listeners import blackhole_port, closed_port, open_port

URL = "https://abc12345.live.dynatrace.com"


def run(ctx) -> eec.Finding:  # type: ignore[name-defined]
    return eec.probe(ProbeContext(ctx, {}))


def bare(tmp_path: Path, environ: dict[str, str] | None = None, **options: object):
    built = fake_host(tmp_path, "bare_metal")
    env = {**built.environ, **(environ or {})}
    return context(env, tmp_path, timeout=0.5, **options)


def test_fake_eec_is_listening_with_evidence(tmp_path: Path) -> None:
    with http_server("EEC") as port:
        ctx = bare(tmp_path, eec_port=port)
        finding = run(ctx)
    assert finding.code == "eec.listening"
    assert "Server: EEC" in finding.summary
    assert finding.details["http"]["server_header"] == "EEC"
    assert finding.details["port"] == {"port": port, "source": "--eec-port"}
    assert eec_target(ctx) == f"127.0.0.1:{port}"
    # The holder is evidence alongside the answer: here the fake EEC, a thread of this very process.
    assert finding.details["owner"]["process"]["pid"] == os.getpid()
    assert f"held by {finding.details['owner']['process']['name']} (pid {os.getpid()})" in finding.summary


def test_other_http_server_held_by_this_process_is_wrong_service(tmp_path: Path) -> None:
    with http_server("nginx/1.25.3", status=200) as port:
        finding = run(bare(tmp_path, eec_port=port))
    assert finding.code == "eec.wrong_service"
    assert f"pid {os.getpid()}" in finding.summary  # the test process holds the port, and is named
    assert "nginx/1.25.3" in finding.summary


def test_non_http_banner_is_wrong_service_naming_it(tmp_path: Path) -> None:
    with open_port(banner=b"SSH-2.0-OpenSSH_9.6\r\n") as port:
        finding = run(bare(tmp_path, eec_port=port))
    assert finding.code == "eec.wrong_service"
    assert "SSH-2.0-OpenSSH_9.6" in finding.summary
    assert finding.details["http"]["kind"] == "banner"


def test_closed_port_on_a_host_is_not_listening_with_the_settings_to_enable(tmp_path: Path) -> None:
    finding = run(bare(tmp_path, eec_port=closed_port()))
    assert finding.code == "eec.not_listening"
    assert finding.status is Status.FAIL  # a port was given: the user relies on the local endpoint
    assert finding.remediation is not None
    assert "Enable local HTTP Metric, Log and Event Ingest API" in finding.remediation
    assert "Install OneAgent" in finding.remediation
    assert "connection refused" in finding.summary


def test_closed_port_when_events_go_to_the_environment_is_not_a_failure(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    ctx = context({"DT_ENVIRONMENT_URL": URL, **built.environ}, tmp_path, timeout=0.5)
    ctx.memo("eec_port", lambda: eec.EecPort(closed_port(), "default", "oneagentctl not found"))
    finding = run(ctx)
    assert finding.code == "eec.not_listening"
    assert finding.status is Status.SKIP  # OneAgent is not installed and not needed


def test_container_with_nothing_listening_advises_an_activegate(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "docker_cgroup_v2")
    ctx = context(built.environ, tmp_path, timeout=0.5, eec_port=closed_port())
    finding = run(ctx)
    assert finding.code == "eec.unavailable_in_container"
    assert finding.status is Status.FAIL
    assert finding.remediation is not None and "https://<activegate>:9999/e/<env-id>/api/v2/events/ingest" in (
        finding.remediation
    )


def test_container_remediation_names_the_environment_id(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "kubernetes")
    env = {**built.environ, "DT_ENVIRONMENT_URL": URL}
    finding = run(context(env, tmp_path, timeout=0.5, eec_port=closed_port()))
    assert finding.code == "eec.unavailable_in_container"
    assert finding.remediation is not None and "/e/abc12345/api/v2/events/ingest" in finding.remediation
    assert finding.status is Status.FAIL  # --eec-port given: the user meant the local endpoint


def test_proxy_without_no_proxy_is_a_warning(tmp_path: Path) -> None:
    with http_server("EEC") as port:
        finding = run(bare(tmp_path, {"HTTP_PROXY": "http://proxy.example:3128"}, eec_port=port))
        covered = run(
            bare(tmp_path, {"HTTP_PROXY": "http://proxy.example:3128", "NO_PROXY": "localhost,127.0.0.1"},
                 eec_port=port)
        )
    assert finding.code == "eec.proxy_not_bypassed"
    assert finding.details["proxy"]["not_excluded"] == ["127.0.0.1", "localhost"]
    assert covered.code == "eec.listening"


def test_https_proxy_alone_does_not_apply_to_the_plain_http_endpoint() -> None:
    assert eec.proxy_exposure({"HTTPS_PROXY": "http://proxy:3128"}) is None
    assert eec.proxy_exposure({"ALL_PROXY": "http://proxy:3128", "NO_PROXY": "127.0.0.0/8,localhost"}) is None


def test_loopback_addresses_are_reported(tmp_path: Path) -> None:
    with http_server("EEC") as port:
        finding = run(bare(tmp_path, eec_port=port))
    attempts = {attempt["address"]: attempt["outcome"] for attempt in finding.details["attempts"]}
    assert attempts["127.0.0.1"] == "open"
    assert attempts["::1"] != "open"  # the test server binds 127.0.0.1 only, like the EEC
    assert "::1" in finding.summary


def test_owner_lookup_names_this_test_process() -> None:
    with open_port() as port:
        owner = listener_owner(port)
    assert owner.found
    assert owner.process is not None and owner.process.pid == os.getpid()
    assert owner.process.name


def test_owner_of_a_closed_port_is_not_found() -> None:
    owner = listener_owner(closed_port())
    assert not owner.found and owner.note


def test_unknown_owner_and_http_answer_without_eec_header_is_unverified(tmp_path: Path) -> None:
    ctx = bare(tmp_path, eec_port=14499)
    with http_server("") as port:
        answer = eec.http_probe("127.0.0.1", port, 0.5)
    finding = eec.judge_open(ctx, Owner(True, None, "the owning process is not permitted"), answer, "", {})
    assert finding.code == "eec.unverified"
    assert finding.status is None  # the code's own status: warn
    assert eec.CODES["eec.unverified"].status is Status.WARN


def test_oneagent_process_without_eec_header_is_listening_with_weaker_evidence(tmp_path: Path) -> None:
    ctx = bare(tmp_path, eec_port=14499)
    with http_server("", status=405) as port:
        answer = eec.http_probe("127.0.0.1", port, 0.5)
    owner = Owner(True, ProcessInfo(4242, "oneagentextensions", "/opt/dynatrace/oneagent/agent/lib64/x", "dtuser"))
    finding = eec.judge_open(ctx, owner, answer, "", {})
    assert finding.code == "eec.listening"
    assert "weaker evidence" in finding.summary and "oneagentextensions" in finding.summary


def test_silent_listener(tmp_path: Path) -> None:
    answer = eec.parse_answer(b"")
    assert answer.kind == "closed"
    assert eec.parse_answer(b"HTTP/1.1 204 No Content\r\nServer: EEC\r\n\r\n").says_eec


def test_port_comes_from_oneagentctl(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent({"--get-extensions-ingest-port": "14600"})
    ctx = context(built.environ, tmp_path, timeout=2)
    assert eec_port(ctx).port == 14600 and eec_port(ctx).source == "oneagentctl"
    assert eec_target(ctx) == "127.0.0.1:14600"


def test_unreadable_port_says_why(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent({"--get-extensions-ingest-port": "Error: insufficient privileges"})
    port = eec_port(context(built.environ, tmp_path, timeout=2))
    assert port.port == 14499 and port.source == "default"
    assert "not a port number" in port.note


def test_environment_variable_port(tmp_path: Path) -> None:
    port = eec_port(context({"DT_EEC_PORT": "15000"}, tmp_path))
    assert (port.port, port.source) == (15000, "DT_EEC_PORT")


def test_macos_is_unsupported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "platform_name", lambda: "darwin")
    finding = run(bare(tmp_path, eec_port=closed_port()))
    assert finding.code == "check.unsupported"


def test_dropped_connects_are_not_listening(tmp_path: Path) -> None:
    with blackhole_port() as port:
        finding = run(context({}, tmp_path, timeout=0.3, eec_port=port))
    assert finding.code == "eec.not_listening"
    assert "no answer" in finding.summary


def test_no_proxy_entry_with_the_port_counts() -> None:
    environ = {"http_proxy": "http://proxy:3128", "no_proxy": "127.0.0.1:14499,localhost:14499"}
    assert eec.proxy_exposure(environ, 14499) is None
    assert eec.proxy_exposure(environ, 15000) is not None


def test_listener_that_closes_at_once_is_named(tmp_path: Path) -> None:
    with open_port() as port:
        finding = run(bare(tmp_path, eec_port=port))
    assert finding.code == "eec.wrong_service"
    assert "closes the connection without answering" in finding.summary


def test_installed_oneagent_with_the_api_off_is_a_warning_when_a_url_is_configured(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent({"--get-extensions-ingest-port": str(closed_port()), "--get-monitoring-mode": "discovery"})
    finding = run(context({"DT_ENVIRONMENT_URL": URL}, tmp_path, timeout=1))
    assert finding.code == "eec.not_listening"
    assert finding.status is Status.WARN
    assert "Discovery mode" in finding.summary
    assert finding.remediation is not None and "--set-monitoring-mode" in finding.remediation
    assert finding.details["port"]["source"] == "oneagentctl"


def test_a_status_with_a_superscript_digit_is_a_banner_not_a_crash(tmp_path: Path) -> None:
    with open_port(banner="HTTP/1.1 ²00 OK\r\nServer: EEC\r\n\r\n".encode("latin-1")) as port:
        finding = run(bare(tmp_path, eec_port=port))
    assert finding.code == "eec.wrong_service"
    assert finding.details["http"]["kind"] == "banner"
    assert eec.parse_answer(b"HTTP/1.1 " + b"2" * 5000 + b" OK\r\n\r\n").kind == "banner"


def test_a_service_trickling_its_answer_is_judged_on_what_came_within_the_timeout(tmp_path: Path) -> None:
    with scripted_server(b"HTTP/1.1 200 OK\r\nServer: nginx\r\n", trickle=endless_header()) as port:
        started = time.monotonic()
        finding = run(bare(tmp_path, eec_port=port))
        took = time.monotonic() - started
    assert finding.code == "eec.wrong_service", finding.summary
    assert finding.details["http"]["server_header"] == "nginx"
    assert took < 2.0


def test_a_port_printed_with_a_superscript_digit_is_not_a_port(tmp_path: Path) -> None:
    built = fake_host(tmp_path, "bare_metal")
    built.oneagent({"--get-extensions-ingest-port": "14²99"})
    port = eec_port(context(built.environ, tmp_path, timeout=2))
    assert port.port == 14499 and port.source == "default"
    assert "not a port number" in port.note


def test_a_no_proxy_port_with_a_superscript_digit_is_not_a_port_restriction() -> None:
    from dtdoctor.net.proxy import no_proxy_match

    assert no_proxy_match("127.0.0.1", 14499, "127.0.0.1:²") == "127.0.0.1:²"
    assert no_proxy_match("127.0.0.1", 14499, "127.0.0.1:" + "1" * 5000) == "127.0.0.1:" + "1" * 5000


def test_owner_on_another_address_is_not_the_one_asked_about() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.2", 0))
        listener.listen()
        port = listener.getsockname()[1]
        elsewhere = listener_owner(port)
        there = listener_owner(port, "127.0.0.2")
    assert not elsewhere.found and elsewhere.note == "no listening socket seen on that port"
    assert there.found and there.process is not None and there.process.pid == os.getpid()


def test_a_listener_on_every_address_owns_the_loopback_port() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        owner = listener_owner(port)
    assert owner.found and owner.process is not None and owner.process.pid == os.getpid()
