"""iptables in the router: what a client sees from each kind of firewall rule."""

from __future__ import annotations

import pytest

from tests.lab.services import name

pytestmark = pytest.mark.lab


def test_tcp_reset_reads_as_refused(check):
    run = check("--url", f"https://{name('fw')}:9996", "--only", "dns,tcp")
    assert run.result("tcp")["code"] == "tcp.refused", run.words("tcp")


def test_dropped_port_times_out_in_one_timeout(check):
    run = check("--url", f"https://{name('fw')}:9997", "--only", "dns,tcp", timeout=2)
    assert run.result("tcp")["code"] == "tcp.timeout", run.words("tcp")
    assert run.seconds < 2 + 3
