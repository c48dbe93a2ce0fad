"""Debian's squid with its default configuration, in front of the lab's servers."""

from __future__ import annotations

import pytest

from tests.lab.services import HOSTS, PROXY_PASSWORD, PROXY_USER, name

pytestmark = pytest.mark.lab

PROXY = f"http://{HOSTS['proxy']}:3128"


def test_default_squid_tunnels_443(check):
    run = check("--url", f"https://{name('good')}/e/abc12345", "--proxy", PROXY, "--only", "proxy,tls")
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")
    assert run.result("tls")["code"] == "tls.ok", run.words("tls")


def test_default_squid_denies_connect_to_9999(check):
    run = check("--url", f"https://{name('fw')}:9999/e/abc12345", "--proxy", PROXY, "--only", "proxy")
    found = run.result("proxy")
    assert found["code"] == "proxy.failed", run.words("proxy")
    assert "403" in run.words("proxy")


def test_basic_auth_with_right_credentials(check):
    from urllib.parse import quote

    proxy = f"http://{PROXY_USER}:{quote(PROXY_PASSWORD, safe='')}@{HOSTS['authproxy']}:3128"
    run = check("--url", f"https://{name('good')}/e/abc12345", "--proxy", proxy, "--only", "proxy,tls")
    assert run.result("proxy")["code"] == "proxy.ok", run.words("proxy")


def test_basic_auth_without_credentials(check):
    run = check("--url", f"https://{name('good')}/e/abc12345", "--proxy", f"http://{HOSTS['authproxy']}:3128",
                "--only", "proxy")
    assert run.result("proxy")["code"] == "proxy.auth_required", run.words("proxy")
