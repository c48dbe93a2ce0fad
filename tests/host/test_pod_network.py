"""A pod on the node's network (downward API: podIP == hostIP) judges 127.0.0.1:<port> as the node's endpoint."""

from __future__ import annotations

from pathlib import Path

from dtdoctor.checks import eec
from dtdoctor.checks.base import ProbeContext
from dtdoctor.core.model import Status
from dtdoctor.host.pod_network import pod_network
from tests.support.factories import context
from tests.support.fake_eec import http_server
from tests.support.fake_hosts import fake_host
from tests.support.listeners import closed_port

HOST_NETWORK = {"DTDOCTOR_POD_IP": "10.202.0.7", "DTDOCTOR_HOST_IP": "10.202.0.7"}
POD_NETWORK = {"DTDOCTOR_POD_IP": "10.244.1.23", "DTDOCTOR_HOST_IP": "10.202.0.7"}


def _run(tmp_path: Path, extra: dict[str, str], port: int) -> eec.Finding:  # type: ignore[name-defined]
    built = fake_host(tmp_path, "kubernetes")
    ctx = context({**built.environ, **extra}, tmp_path, timeout=0.5, eec_port=port)
    return eec.probe(ProbeContext(ctx, {}))


def test_on_the_host_network_nothing_listening_is_the_nodes_problem(tmp_path: Path) -> None:
    finding = _run(tmp_path, HOST_NETWORK, closed_port())
    assert finding.code == "eec.not_listening"
    assert finding.status is Status.FAIL  # a port was given: the node is relied on
    assert finding.details["pod_network"]["host_network"] is True


def test_on_the_host_network_the_nodes_endpoint_is_listening(tmp_path: Path) -> None:
    with http_server("EEC") as port:
        finding = _run(tmp_path, HOST_NETWORK, port)
    assert finding.code == "eec.listening"


def test_on_the_pod_network_it_is_still_a_container(tmp_path: Path) -> None:
    finding = _run(tmp_path, POD_NETWORK, closed_port())
    assert finding.code == "eec.unavailable_in_container"
    assert finding.details["pod_network"]["host_network"] is False


def test_without_the_downward_api_nothing_is_assumed(tmp_path: Path) -> None:
    finding = _run(tmp_path, {"DTDOCTOR_POD_IP": "10.202.0.7"}, closed_port())
    assert finding.code == "eec.unavailable_in_container" and "pod_network" not in finding.details


def test_addresses_compare_as_addresses() -> None:
    network = pod_network({"DTDOCTOR_POD_IP": "fd00::0:7", "DTDOCTOR_HOST_IP": " fd00::7"})
    assert network is not None and network.shares_host
    garbled = pod_network({"DTDOCTOR_POD_IP": "node", "DTDOCTOR_HOST_IP": "node"})
    assert garbled is not None and not garbled.shares_host
