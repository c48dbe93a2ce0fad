"""iptables in the router: what a client sees from each kind of firewall rule, and who is named."""

from __future__ import annotations

import pytest

from tests.lab import netns
from tests.lab.services import HOSTS, HOSTS6, name

pytestmark = pytest.mark.lab

FW = HOSTS["fw"]
ROUTER = netns.ROUTER_CLIENT_SIDE


@pytest.mark.parametrize(
    ("port", "icmp"),
    [(9991, "ICMP admin prohibited"), (9992, "ICMP host prohibited"), (9995, "ICMP port unreachable")],
)
def test_icmp_rejection_names_the_firewall_and_the_port(check, port, icmp):
    run = check("--url", f"https://{name('fw')}:{port}", "--only", "dns,tcp")
    found = run.result("tcp")
    assert found["code"] == "tcp.rejected", run.words("tcp")
    words = run.words("tcp")
    assert f"{ROUTER} answered {icmp}" in words
    assert f"a firewall rejects port {port}" in words
    assert f"firewall at {ROUTER}" in words  # who must act
    assert "ip route" not in words


def test_host_unreachable_with_another_port_open_is_a_firewall(check):
    # The environment on 443 answers; the ActiveGate port on the same address gets "host unreachable".
    run = check("--url", f"https://{name('fw')}/e/abc12345", "--activegate", f"https://{name('fw')}:9993",
                "--only", "dns,tcp")
    assert run.result("tcp", f"{name('fw')}:443")["code"] == "tcp.open"
    found = run.result("tcp", f"{name('fw')}:9993")
    assert found["code"] == "tcp.rejected", run.words("tcp", f"{name('fw')}:9993")
    assert "port 443 on the same address answered in this run" in found["summary"]
    assert found["details"]["open_ports_same_address"] == [443]


def test_host_unreachable_alone_names_the_router_and_says_it_cannot_tell(check):
    run = check("--url", f"https://{name('fw')}:9993", "--only", "dns,tcp")
    found = run.result("tcp")
    assert found["code"] == "tcp.unreachable", run.words("tcp")
    assert f"router {ROUTER} answered ICMP host unreachable" in found["summary"]
    assert "cannot tell" in found["summary"]


def test_unrouted_network_names_the_router(check):
    run = check("--url", f"https://{netns.UNROUTED}", "--only", "dns,tcp")
    assert run.result("tcp")["code"] == "tcp.unreachable", run.words("tcp")
    assert f"router {ROUTER}" in run.words("tcp")


def test_no_local_route_says_so(check):
    run = check("--url", f"https://[{netns.NO_ROUTE6}]", "--only", "dns,tcp")
    found = run.result("tcp")
    assert found["code"] == "tcp.unreachable", run.words("tcp")
    assert "this host has no route" in found["summary"] and "ip -6 route" in found["remediation"]


def test_tcp_reset_is_said_to_look_like_a_closed_port(check):
    run = check("--url", f"https://{name('fw')}:9996", "--activegate", f"https://{name('fw')}:443",
                "--only", "dns,tcp")
    found = run.result("tcp", f"{name('fw')}:9996")
    assert found["code"] == "tcp.refused", found["summary"]
    assert "look exactly alike" in found["summary"]
    assert "port 443 on the same address answered" in found["summary"]


def test_dropped_port_times_out_in_one_timeout(check):
    run = check("--url", f"https://{name('fw')}:9997", "--activegate", f"https://{name('fw')}:9991",
                "--only", "dns,tcp", timeout=2)
    assert run.result("tcp", f"{name('fw')}:9997")["code"] == "tcp.timeout", run.words("tcp")
    assert run.result("tcp", f"{name('fw')}:9991")["code"] == "tcp.rejected"
    assert run.seconds < 2 + 3


def test_ipv6_admin_prohibited(check):
    run = check("--url", f"https://[{HOSTS6['good6']}]:9991", "--only", "dns,tcp")
    found = run.result("tcp")
    assert found["code"] == "tcp.rejected", run.words("tcp")
    assert f"{netns.ROUTER_CLIENT_SIDE6} answered ICMPv6 administratively prohibited" in found["summary"]


@pytest.mark.parametrize("timeout", [2, 6])
def test_unanswered_arp_is_named_at_any_timeout(check, timeout):
    run = check("--url", f"https://{netns.NOBODY_ON_LINK}", "--only", "dns,tcp", timeout=timeout)
    found = run.result("tcp")
    assert found["code"] == "tcp.no_neighbor", run.words("tcp")
    assert f"no device answers ARP for {netns.NOBODY_ON_LINK}" in found["summary"]
