"""``dtdoctor serve`` over a real socket: pages, health codes, runs on the interval, signals, redaction, bad options."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dtdoctor.redact import Redactor
from dtdoctor.serve.runs import Latest, Scheduler, Snapshot
from tests.serve.conftest import clean_environ, serve_command
from tests.support.echo_check import echo_token
from tests.support.factories import CANARY_PUBLIC, CANARY_SECRET, CANARY_TOKEN
from tests.support.listeners import blackhole_port, closed_port

FRAGMENTS = {CANARY_SECRET[i : i + 12] for i in range(len(CANARY_SECRET) - 11)}


def token_file(tmp_path: Path, token: str = CANARY_TOKEN, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_pages_of_a_finished_run(start_serve) -> None:
    served = start_serve("--only", "config,dns,tcp", "-u", f"http://127.0.0.1:{closed_port()}/")
    served.wait_for(r"run 1 finished in [0-9.]+s: status fail, exit 2")

    metrics = served.get("/metrics")
    assert metrics.status == 200 and metrics.content_type.startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(metrics.body)}
    assert families["dtdoctor_exit_code"].samples[0].value == 2
    assert families["dtdoctor_serve_runs"].samples[0].value >= 1  # the parser drops a counter's _total
    codes = {sample.labels["code"] for sample in families["dtdoctor_check_info"].samples}
    assert "tcp.refused" in codes

    health = served.get("/healthz")
    assert health.status == 503 and health.body.startswith("unhealthy: run ") and "exit 2" in health.body

    report = served.get("/report.json")
    assert report.status == 200 and report.content_type.startswith("application/json")
    data = json.loads(report.body)
    assert data["schema"] == "dtdoctor.report/v1" and data["exit_code"] == 2
    page = served.get("/")
    assert page.status == 200 and page.content_type.startswith("text/html") and "tcp.refused" in page.body
    assert served.get("/metrics?x=1").status == 200
    assert served.get("/other").status == 404


def test_healthz_is_503_until_the_first_run_ends(start_serve) -> None:
    with blackhole_port() as port:
        served = start_serve("--only", "config,tcp", "--timeout", "2", "-u", f"https://127.0.0.1:{port}/")
        early = served.get("/healthz")
        metrics = served.get("/metrics")
        report = served.get("/report.json")
        served.wait_for(r"run 1 finished", timeout=30)
    assert early.status == 503 and early.body.startswith("starting")
    assert metrics.status == 503 and report.status == 503


def test_healthz_follows_warn_ok(start_serve, tmp_path: Path) -> None:
    # A group-readable token file is a warning (token.file_insecure): exit 1.
    token = token_file(tmp_path, mode=0o640)
    strict = start_serve("--only", "config", "--token-file", str(token))
    strict.wait_for(r"run 1 finished.*exit 1")
    assert strict.get("/healthz").status == 503
    relaxed = start_serve("--only", "config", "--token-file", str(token), "--warn-ok")
    relaxed.wait_for(r"run 1 finished.*exit 0")
    assert relaxed.get("/healthz").status == 200


def test_runs_repeat_on_the_interval_and_reread_the_token_file(start_serve, tmp_path: Path) -> None:
    token = token_file(tmp_path)
    served = start_serve("--only", "config", "--token-file", str(token), "--interval", "0.3")
    served.wait_for(r"run 1 finished.*exit 0")
    assert served.get("/healthz").status == 200
    assert CANARY_PUBLIC in json.loads(served.get("/report.json").body)["config"]["token"]

    rotated = "dt0c01.ROTATEDPUBLIC00000000000." + "R" * 64
    token.write_text(rotated + "\n", encoding="utf-8")
    # Which run first reads it depends on when this line ran: look for it in the runs that follow, within 20 s.
    assert served.poll(lambda: "ROTATEDPUBLIC" in json.loads(served.get("/report.json").body)["config"]["token"])

    token.unlink()  # a Secret removed under a running pod: the run says why, health turns 503
    served.wait_for(r"run [0-9]+ finished.*configuration unusable: token file not found.*exit 3")
    health = served.get("/healthz")
    assert health.status == 503 and "token file not found" in health.body
    families = {family.name: family for family in text_string_to_metric_families(served.get("/metrics").body)}
    assert families["dtdoctor_serve_run_failed"].samples[0].value == 1


def connecting(pid: int, port: int) -> bool:
    """Whether process ``pid`` has a TCP connect to ``port`` on 127.0.0.1 still waiting for an answer."""
    import psutil

    return any(connection.status == psutil.CONN_SYN_SENT and connection.raddr and connection.raddr[1] == port
               for connection in psutil.Process(pid).net_connections(kind="tcp"))


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_it_within_a_second_even_mid_run(start_serve, signal_number: int) -> None:
    with blackhole_port() as port:
        served = start_serve("--only", "config,tcp", "--timeout", "20", "-u", f"https://127.0.0.1:{port}/")
        # The first run is waiting on a connect that will not finish for 20 s once its SYN is out.
        assert served.poll(lambda: connecting(served.process.pid, port))
        took = served.stop(signal_number)
    assert took < 1.0
    assert served.process.returncode == 0
    served.wait_for("stopped")


def test_redaction_on_every_page_even_when_the_server_echoes_the_token(start_serve, tmp_path, httpserver) -> None:
    httpserver.expect_request("/api/v2/apiTokens/lookup").respond_with_handler(echo_token)
    served = start_serve("--token-file", str(token_file(tmp_path)), "--timeout", "2", "-u", httpserver.url_for("/"))
    served.wait_for(r"run 1 finished")
    assert any(CANARY_SECRET in str(entry[0].headers) for entry in httpserver.log), "the server saw the token"
    pages = {path: served.get(path).body for path in ("/metrics", "/healthz", "/report.json", "/")}
    served.stop()
    pages["stderr"] = "\n".join(served.lines)
    for where, text in pages.items():
        assert CANARY_SECRET not in text, where
        assert not [fragment for fragment in FRAGMENTS if fragment in text], where
    assert CANARY_PUBLIC in pages["/report.json"]


def test_report_pages_only_on_loopback_unless_exposed(start_serve) -> None:
    args = ["--only", "config", "--listen", "0.0.0.0:0"]
    hidden = start_serve(*args)
    hidden.wait_for("run 1 finished")
    assert "report pages not served" in hidden.lines[0]
    assert hidden.get("/report.json", host="127.0.0.1").status == 403
    assert hidden.get("/", host="127.0.0.1").status == 403
    assert hidden.get("/metrics", host="127.0.0.1").status == 200
    assert hidden.get("/healthz", host="127.0.0.1").status == 200
    exposed = start_serve(*args, "--expose-report")
    exposed.wait_for("run 1 finished")
    assert exposed.get("/report.json", host="127.0.0.1").status == 200


@pytest.mark.parametrize("args, message", [
    (["--interval", "soon"], "--interval"),
    (["--interval", "0"], "--interval"),
    (["--listen", "localhost"], "--listen"),
    (["--listen", "127.0.0.1:70000"], "out of range"),
    (["--send-test-event"], "does not send test events"),
    (["--token-file", "-"], "not - (stdin)"),
    (["--token-file", "/nonexistent/token"], "token file not found"),
    (["--only", "nosuch"], "unknown check id"),
    (["--ca-bundle", "/nonexistent/ca.pem"], "CA bundle not found"),
    (["-f", "json"], "No such option"),
])
def test_bad_options_are_refused_before_listening(args: list[str], message: str) -> None:
    completed = subprocess.run(serve_command(*args), capture_output=True, text=True, timeout=30, env=clean_environ(),
                               stdin=subprocess.DEVNULL, check=False)
    assert completed.returncode == 3
    assert message in completed.stderr
    assert "listening" not in completed.stderr and "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line_and_exit_3(start_serve) -> None:
    first = start_serve("--only", "config")
    completed = subprocess.run(
        [sys.executable, "-m", "dtdoctor", "serve", "--only", "config", "--listen", f"127.0.0.1:{first.port}"],
        capture_output=True, text=True, timeout=30, env=clean_environ(), stdin=subprocess.DEVNULL, check=False)
    assert completed.returncode == 3
    expected = f"dtdoctor: error: cannot listen on 127.0.0.1:{first.port}: Address already in use"
    assert completed.stderr.strip() == expected


def test_runs_never_overlap_and_follow_each_other_when_longer_than_the_interval() -> None:
    inside = 0
    most = 0
    numbers: list[int] = []
    guard = threading.Lock()
    stop = threading.Event()

    def slow_run(number: int) -> Snapshot:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.1)  # ten times the interval
        with guard:
            inside -= 1
            numbers.append(number)
        if number == 5:
            stop.set()  # the fifth run is the last: the scheduler starts no other
        return Snapshot(number=number, exit_code=0, status="pass")

    latest = Latest()
    scheduler = Scheduler(slow_run, 0.01, latest, stop, lambda line: None)
    started = time.monotonic()
    scheduler.start()
    scheduler.thread.join(10)
    assert not scheduler.thread.is_alive()
    assert most == 1
    assert numbers == [1, 2, 3, 4, 5]
    assert latest.get().number == 5
    assert time.monotonic() - started < 5  # five runs of 0.1 s, one right after the other


def test_redactor_scrubs_failed_run_text() -> None:
    from dtdoctor.serve.runs import failed_snapshot

    snapshot = failed_snapshot(f"token file said {CANARY_SECRET}", 3, Redactor([CANARY_SECRET]))
    assert CANARY_SECRET not in snapshot.health_text() and snapshot.exit_code == 3


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:9758", ("127.0.0.1", 9758)), ("[::1]:9758", ("::1", 9758)),
    ("fd00::7:9758", ("fd00::7", 9758)),  # what --listen=$(DTDOCTOR_HOST_IP):9758 gives on an IPv6 node
    ("localhost:0", ("localhost", 0)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    from dtdoctor.serve.command import parse_listen

    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["localhost", "::1", "1.2.3.4:", "a:b:9758", "[x]:1", ":9758", "[1.2.3.4]:80"])
def test_listen_addresses_refused(text: str) -> None:
    import click

    from dtdoctor.serve.command import parse_listen

    with pytest.raises(click.BadParameter):
        parse_listen(text)
