"""Trust contexts are built once and shared by every handshake of a run, and built anew when what they load changes."""

from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path
from typing import Callable

import pytest

from dtdoctor.checks import activegate, api, clock, config_token, config_url, dns, tcp, tls, token
from dtdoctor.core.model import Status
from dtdoctor.net import trust
from tests.support.live_run import lab
from tests.support.tls_servers import Authority, tls_server
from tests.tls.helpers import ctx_for, run


@pytest.fixture()
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stores whose context was built, in order; contexts built before this test are forgotten."""
    monkeypatch.setattr(trust, "_CONTEXTS", {})
    built: list[str] = []
    build: Callable[..., ssl.SSLContext] = trust.ssl_context

    def counted(store: str = trust.SYSTEM, ca_bundle: Path | None = None) -> ssl.SSLContext:
        built.append(store)
        return build(store, ca_bundle)

    monkeypatch.setattr(trust, "ssl_context", counted)
    return built


def verifies(context: ssl.SSLContext, authority: Authority) -> bool:
    """Whether a handshake through ``context`` accepts a server whose certificate ``authority`` issued."""
    leaf = authority.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            try:
                with context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    return True
            except ssl.SSLCertVerificationError:
                return False


def test_threads_asking_at_once_share_one_build(builds: list[str], tmp_path: Path) -> None:
    bundle = Authority("Shared Root").write_pem(tmp_path)
    barrier = threading.Barrier(6)
    contexts: list[ssl.SSLContext] = []

    def ask() -> None:
        barrier.wait()
        contexts.append(trust.shared_context(trust.SYSTEM, bundle))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(contexts) == 6 and all(context is contexts[0] for context in contexts)
    assert builds == [trust.SYSTEM]


def test_a_rewritten_ca_bundle_gives_a_new_context_even_with_the_same_mtime(builds: list[str], tmp_path: Path) -> None:
    first, second = Authority("First Root"), Authority("Second Root, a longer name")
    bundle = first.write_pem(tmp_path, "bundle.pem")
    before = trust.shared_context(trust.SYSTEM, bundle)
    stamp = bundle.stat()
    bundle.write_bytes(second.cert_pem)
    os.utime(bundle, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # a copy that keeps the time (cp -p, rsync -t)
    after = trust.shared_context(trust.SYSTEM, bundle)
    assert after is not before and builds == [trust.SYSTEM, trust.SYSTEM]
    assert verifies(before, first) and not verifies(before, second)
    assert verifies(after, second) and not verifies(after, first)


def test_a_changed_system_store_gives_a_new_context(
    builds: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-running process (serve) sees the store as updated by the package manager."""
    first, second = Authority("Store Root A"), Authority("Store Root B")
    store = tmp_path / "store.pem"
    store.write_bytes(first.cert_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(store))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-folder"))
    before = trust.shared_context(trust.SYSTEM)
    assert trust.shared_context(trust.SYSTEM) is before
    store.write_bytes(second.cert_pem + first.cert_pem)
    after = trust.shared_context(trust.SYSTEM)
    assert after is not before and verifies(after, second) and not verifies(before, second)


def test_a_run_loads_each_store_once(builds: list[str], tmp_path: Path) -> None:
    """tls (both stores), clock, api, activegate and token: one system context and one certifi context."""
    with lab(tmp_path) as setup:
        ctx = ctx_for(setup.url, activegates=(setup.activegate_url,), ca_bundle=str(setup.ca_bundle),
                      token_file=str(setup.token_file), timeout=5.0)
        results = run(config_url, config_token, dns, tcp, tls, clock, api, activegate, token, ctx=ctx)
    assert {r.id for r in results if r.status is Status.PASS} >= {"tls", "api", "activegate", "token", "clock"}
    assert sorted(builds) == [trust.CERTIFI, trust.SYSTEM]


def test_the_tls_checks_preparation_builds_the_contexts_its_handshakes_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Loading the stores waits for no result: it runs in the preparation started with the run, so the
    handshakes (here with no DNS or TCP result to wait for) find the contexts built."""
    monkeypatch.setattr(trust, "_CONTEXTS", {})
    builders: list[tuple[str, str]] = []
    build: Callable[..., ssl.SSLContext] = trust.ssl_context

    def recorded(store: str = trust.SYSTEM, ca_bundle: Path | None = None) -> ssl.SSLContext:
        builders.append((store, threading.current_thread().name))
        return build(store, ca_bundle)

    monkeypatch.setattr(trust, "ssl_context", recorded)
    authority = Authority("Prepared Root")
    leaf = authority.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        ctx = ctx_for(f"https://127.0.0.1:{port}/e/abc", ca_bundle=str(authority.write_pem(tmp_path)), timeout=2.0)
        results = run(tls, ctx=ctx)
    assert [r.code for r in results] == ["tls.ok"]
    assert sorted(store for store, _ in builders) == [trust.CERTIFI, trust.SYSTEM]
    assert all(thread.startswith("dtdoctor-prepare-tls-") for _, thread in builders), builders
