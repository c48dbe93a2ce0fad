"""macOS and Windows: the system store is the operating system's verifier, through truststore.

This machine is Linux, where truststore verifies with OpenSSL: forcing the
macOS/Windows path here proves the wiring (the context every handshake and
request uses, with --ca-bundle added) against real TLS servers, not the
keychain itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dtdoctor.checks import tls
from dtdoctor.core.model import Status
from dtdoctor.net import trust
from tests.support.tls_servers import Authority, tls_server
from tests.tls.helpers import ctx_for, only, run

truststore = pytest.importorskip("truststore")  # Python 3.10 and newer


@pytest.fixture()
def os_verifier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trust, "uses_os_verifier", lambda platform="darwin": True)
    monkeypatch.setattr(trust, "_CONTEXTS", {})  # contexts built before were OpenSSL's


def test_the_os_verifier_is_chosen_on_macos_and_windows_only() -> None:
    assert trust.uses_os_verifier("darwin") and trust.uses_os_verifier("win32")
    assert not trust.uses_os_verifier("linux") and not trust.uses_os_verifier("freebsd14")


def test_the_system_store_context_is_the_os_verifier(os_verifier: None) -> None:
    assert isinstance(trust.ssl_context(trust.SYSTEM), truststore.SSLContext)
    assert not isinstance(trust.ssl_context(trust.CERTIFI), truststore.SSLContext)


def test_the_tls_check_verifies_through_it_with_the_ca_bundle_added(
    os_verifier: None, root: Authority, root_file: Path
) -> None:
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        trusted = only(run(tls, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file))), "tls")
        untrusted = only(run(tls, ctx=ctx_for(f"https://127.0.0.1:{port}")), "tls")
    assert trusted.code == "tls.ok", trusted.summary
    assert untrusted.status is Status.FAIL and untrusted.code in (
        "tls.self_signed", "tls.untrusted_root", "tls.unknown_issuer"
    )
