"""One graph: every result's ``depends_on`` is exactly what the runner waited for.

Every registered check is planned and run in several configurations against
real loopback servers (the fake Dynatrace, a CONNECT proxy, a plain-HTTP
stand-in for OneAgent's local endpoint). For each result of the JSON report,
``depends_on`` must equal the check ids of the results the runner waited for,
those must be the probe's declared ``requires`` and ``after`` that were
planned, and the runner's own event order must show each of them finished
before the probe started.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
from typing import Any, Iterator

import pytest
import trustme

from dtdoctor.checks import CHECKS
from dtdoctor.checks.base import ResultKey
from dtdoctor.core.model import CheckResult
from dtdoctor.core.report import build_report
from dtdoctor.core.runner import Runner, select_checks
from tests.support import factories
from tests.support.connect_proxy import connect_proxy
from tests.support.fake_dynatrace import FakeDynatrace, Recorded, Reply, make_token, serve
from tests.support.listeners import closed_port
from tests.support.tls_servers import TENANT

TOKEN = make_token("GRAPH")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture()
def ca_bundle(ca: trustme.CA, tmp_path: Any) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return context


def fake_dynatrace() -> FakeDynatrace:
    fake = FakeDynatrace()
    fake.add(TOKEN, scopes=("events.ingest",))
    return fake


def local_agent(request: Recorded) -> Reply:
    """OneAgent's local ingest endpoint as far as the event check needs it: it accepts one event."""
    if request.method == "POST" and request.path == "/v2/events/ingest":
        return Reply(201, {"reportCount": 1, "eventIngestResults": [{"correlationId": "graph", "status": "OK"}]})
    return Reply(404, b"", content_type="text/plain")


@contextlib.contextmanager
def configuration(name: str, ca: trustme.CA, ca_bundle: str) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """(environment, options) for one named configuration, with its servers running."""
    base: dict[str, Any] = {"ca_bundle": ca_bundle, "timeout": 2.0, "eec_port": closed_port()}
    token = {"DT_API_TOKEN": TOKEN}
    loopback = server_context(ca, "127.0.0.1")
    if name == "no config":
        yield {}, {"timeout": 2.0}
    elif name == "url and token":
        with serve(fake_dynatrace(), loopback) as env:
            yield token, {**base, "url": env.url()}
    elif name == "proxy":
        with serve(fake_dynatrace(), server_context(ca, TENANT)) as env, connect_proxy() as proxy_port:
            environ = {**token, "HTTPS_PROXY": f"http://127.0.0.1:{proxy_port}"}
            yield environ, {**base, "url": f"https://{TENANT}:{env.port}/e/abc"}
    elif name == "activegates":
        with serve(fake_dynatrace(), loopback) as env, serve(fake_dynatrace(), loopback) as gate:
            yield token, {**base, "url": env.url(), "activegates": (gate.url(), f"https://127.0.0.1:{closed_port()}")}
    else:
        with serve(fake_dynatrace(), loopback) as env, serve(fake_dynatrace(), loopback) as gate, \
                serve(local_agent) as agent:
            yield token, {**base, "url": env.url(), "activegates": (gate.url(),), "eec_port": agent.port,
                          "send_test_event": True}


def run_recording(
    environ: dict[str, str], options: dict[str, Any], skip: tuple[str, ...] = ()
) -> tuple[Runner, dict[str, Any], list[Any]]:
    events: list[tuple[str, ResultKey]] = []
    ctx = factories.context(environ, **options)
    checks = select_checks(CHECKS, skip=skip)
    runner = Runner(checks, ctx, progress=lambda event, key, result: events.append((event, key)))
    results: list[CheckResult] = runner.run()
    started_at = dt.datetime.now(dt.timezone.utc)
    report = build_report(results, ctx.settings, {"hostname": "graph"}, started_at, 0).to_json()
    return runner, report, events


CONFIGURATIONS = ["no config", "url and token", "proxy", "activegates", "send test event"]


# A selection that leaves out checks others declare they need: those are not waited for, nor shown.
SELECTIONS = [(), ("tcp", "container", "config.token")]


@pytest.mark.parametrize("skip", SELECTIONS)
@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_depends_on_is_what_the_runner_waited_for(
    name: str, skip: tuple[str, ...], ca: trustme.CA, ca_bundle: str
) -> None:
    with configuration(name, ca, ca_bundle) as (environ, options):
        runner, report, events = run_recording(environ, options, skip)
    declared = {task.key: (*task.probe.requires, *task.probe.after) for task in runner.tasks}
    position = {(event, key): index for index, (event, key) in enumerate(events)}
    assert [(check["id"], check["target"]) for check in report["checks"]] == [task.key for task in runner.tasks]
    for check in report["checks"]:
        key = (check["id"], check["target"])
        waited = runner.waited[key]
        assert check["depends_on"] == list(dict.fromkeys(check_id for check_id, _ in waited)), key
        assert waited == tuple(dict.fromkeys(k for k in declared[key] if k in runner.planned)), key
        began = position.get(("start", key), position[("done", key)])
        assert all(position[("done", prerequisite)] < began for prerequisite in waited), key
        assert not set(check["depends_on"]) & set(skip), key


def depends(report: dict[str, Any], check_id: str) -> dict[str, list[str]]:
    return {check["target"]: check["depends_on"] for check in report["checks"] if check["id"] == check_id}


def test_the_edges_follow_the_route(ca: trustme.CA, ca_bundle: str) -> None:
    """Every remote check waits for the endpoint's tcp result: through a proxy that is its own tunnel,
    which waits for the proxy; direct, a TCP connect."""
    with configuration("proxy", ca, ca_bundle) as (environ, options):
        _, proxied, _ = run_recording(environ, options)
    with configuration("send test event", ca, ca_bundle) as (environ, options):
        _, direct, _ = run_recording(environ, options)
    assert list(depends(proxied, "tls").values()) == [["tcp"]]
    # clock also reads its endpoint's tls result (a handshake, an inspecting proxy) and the container check
    # (a container's clock is its host's).
    assert list(depends(proxied, "clock").values()) == [["tcp", "tls", "container"]]
    assert list(depends(proxied, "tcp").values()) == [["proxy"]]
    assert list(depends(proxied, "api").values()) == [["tcp", "tls"]]
    assert list(depends(proxied, "token").values()) == [["config.token", "tcp", "tls", "api"]]
    assert set(map(tuple, depends(direct, "api").values())) == {("tcp", "tls")}
    event = depends(direct, "event")
    assert sorted(event.values()) == sorted([["config.token", "tcp", "tls", "api"]] * 2 + [["eec"]])
    for check_id in ("oneagent", "eec"):
        assert list(depends(direct, check_id).values()) == [["container"]]
    # truststore reads the tls results and their handshakes; it never connects itself.
    assert depends(direct, "truststore") == {"local": ["tls"]}
