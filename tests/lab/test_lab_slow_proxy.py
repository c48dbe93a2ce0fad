"""squid on ``https_port`` behind a slow link: every stage of a tunnel slow, each within the timeout.

A relay in the servers' namespace (tests/lab/slow_link.py) holds back each chunk the client sends
by 0.6 s on its way to squid: the TLS handshake with the proxy takes 0.6 s (the ClientHello), the
CONNECT 0.6 s or 1.2 s (the client's last handshake message and the request, which the relay reads as
one chunk or two, as the client's writes happen to meet it), 1.2 s or more together. The tunnel has
one timeout in all, so at ``--timeout 1`` it does not open, and the words say how much of the
timeout reaching the proxy took; at ``--timeout 4`` the same squid opens it. (With 0.4 s a relay
that read the last two writes as one chunk made the whole tunnel 0.8 s: it opened, now and then.)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.lab import netns
from tests.lab.services import HOSTS, TLS_PROXY_PORT, name

pytestmark = pytest.mark.lab

SLOW_PORT = 3139
DELAY_S = 0.6
ENV = f"https://{name('good')}/e/abc12345"
SLOW_PROXY = f"https://{name('tlsproxy')}:{SLOW_PORT}"


@pytest.fixture()
def slow_link(lab) -> Iterator[None]:
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "tests.lab.slow_link", HOSTS["tlsproxy"], str(SLOW_PORT), HOSTS["tlsproxy"],
            str(TLS_PROXY_PORT), str(DELAY_S)]
    process = subprocess.Popen(["ip", "netns", "exec", netns.SERVERS, *argv], cwd=str(root),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == b"listening"
        yield
    finally:
        process.kill()
        process.wait(5)


def test_a_tunnel_slow_at_every_stage_does_not_open_within_one_timeout(check, slow_link):
    started = time.monotonic()
    run = check("--url", ENV, "--proxy", SLOW_PROXY, "--only", "proxy,tcp", timeout=1)
    took = time.monotonic() - started
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert "did not answer CONNECT within 1 s (the tunnel's limit; connecting to the proxy took" in found["summary"]
    assert found["duration_ms"] < 3 * 1000  # its budget: TCP to the proxy, the tunnels, naming a failure
    assert run.result("tcp")["code"] == "prerequisite.failed"
    assert took < 1 + 3 * 1 + 1  # start-up, the proxy probe's limit, exit


def test_the_same_squid_opens_the_tunnel_within_a_timeout_long_enough(check, slow_link):
    run = check("--url", ENV, "--proxy", SLOW_PROXY, "--only", "proxy,tcp", timeout=4)
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    assert run.result("tcp")["code"] == "tcp.tunnel_open", run.words("tcp")
