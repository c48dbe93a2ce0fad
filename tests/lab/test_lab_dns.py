"""dnsmasq as the client's resolver: names that do not exist."""

from __future__ import annotations

import pytest

from tests.lab.services import name

pytestmark = pytest.mark.lab


def test_nxdomain_fails(check):
    run = check("--url", f"https://{name('nope')}/e/abc12345", "--only", "dns")
    assert run.result("dns")["code"] == "dns.failed", run.words("dns")
    assert "does not exist" in run.words("dns")
