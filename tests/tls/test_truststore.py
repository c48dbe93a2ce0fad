"""The truststore check: store discovery on fake hosts, freshness, and system-vs-certifi verdicts."""

from __future__ import annotations

import datetime
import gzip
import os
import ssl
from pathlib import Path
from typing import Any

import pytest

from dtdoctor.checks import proxy as proxy_check
from dtdoctor.checks import tcp, tls, truststore
from dtdoctor.checks.base import ProbeContext
from dtdoctor.core.model import CheckResult, Status
from dtdoctor.net import tls_probe, trust
from tests.support.factories import context
from tests.support.listeners import closed_port
from tests.support.tls_servers import Authority, ServerLog, tls_server
from tests.tls.helpers import ctx_for, only, run

TODAY = datetime.date.today()


def pem_bundle(root: Authority, count: int) -> bytes:
    return root.cert_pem * count


def fake_host(tmp_path: Path, os_id: str, bundle: str | None, root: Authority, count: int = 3) -> Path:
    (tmp_path / "etc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/os-release").write_text(f'ID={os_id}\nPRETTY_NAME="{os_id} test"\n')
    if bundle:
        path = tmp_path / bundle.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem_bundle(root, count))
    return tmp_path


def local(tmp_path: Path, environ: dict[str, str] | None = None, platform: str = "linux") -> object:
    return truststore.probe_local(context(environ or {}, root=tmp_path), platform, TODAY)


@pytest.mark.parametrize(
    ("os_id", "bundle"),
    [
        ("debian", "/etc/ssl/certs/ca-certificates.crt"),
        ("rhel", "/etc/pki/tls/certs/ca-bundle.crt"),
        ("fedora", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"),
        ("alpine", "/etc/ssl/cert.pem"),
        ("opensuse-leap", "/var/lib/ca-certificates/ca-bundle.pem"),
    ],
)
def test_each_distribution_layout_is_found(tmp_path: Path, root: Authority, os_id: str, bundle: str) -> None:
    fake_host(tmp_path, os_id, bundle, root, count=4)
    finding = local(tmp_path)
    assert finding.code == "truststore.ok", finding.summary
    assert finding.details["store"] == bundle
    assert finding.details["roots"] == 4
    assert f"{bundle}" in finding.summary and "4 certificate(s)" in finding.summary


def test_ssl_cert_file_overrides_the_distribution_default(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "debian", "/etc/ssl/certs/ca-certificates.crt", root, count=5)
    custom = tmp_path / "opt/corp/ca.pem"
    custom.parent.mkdir(parents=True)
    custom.write_bytes(pem_bundle(root, 2))
    finding = local(tmp_path, {"SSL_CERT_FILE": "/opt/corp/ca.pem"})
    assert finding.code == "truststore.ok"
    assert finding.details["store"] == "/opt/corp/ca.pem"
    assert finding.details["locations"][0]["origin"] == "SSL_CERT_FILE"
    assert finding.details["roots"] == 2


def test_ssl_cert_file_pointing_nowhere_is_missing(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "debian", "/etc/ssl/certs/ca-certificates.crt", root)
    finding = local(tmp_path, {"SSL_CERT_FILE": "/nowhere/ca.pem"})
    assert finding.code == "truststore.missing"
    assert "SSL_CERT_FILE points to /nowhere/ca.pem" in finding.summary


def test_no_store_at_all_is_missing_with_the_distribution_command(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "alpine", None, root)
    finding = local(tmp_path)
    assert finding.code == "truststore.missing"
    assert "apk add ca-certificates" in finding.remediation


def test_hashed_directory_counts_when_there_is_no_bundle(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "debian", None, root)
    folder = tmp_path / "etc/ssl/certs"
    folder.mkdir(parents=True)
    for index in range(3):
        (folder / f"0a1b2c3{index}.0").write_bytes(root.cert_pem)
    finding = local(tmp_path)
    assert finding.code == "truststore.ok"
    assert finding.details["roots"] == 3


def test_old_debian_package_is_stale_with_the_apt_command(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "ubuntu", "/etc/ssl/certs/ca-certificates.crt", root)
    changelog = tmp_path / "usr/share/doc/ca-certificates/changelog.Debian.gz"
    changelog.parent.mkdir(parents=True)
    with gzip.open(changelog, "wt") as handle:
        handle.write("ca-certificates (20210119) unstable; urgency=medium\n\n  * update\n")
    finding = local(tmp_path)
    assert finding.code == "truststore.stale"
    assert truststore.CODES[finding.code].status is Status.WARN
    assert finding.details["store_date"] == {
        "date": "2021-01-19",
        "from": "ca-certificates package (changelog.Debian.gz)",
    }
    assert "apt-get" in finding.remediation


def test_old_bundle_file_date_is_stale_on_rhel(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "rhel", "/etc/pki/tls/certs/ca-bundle.crt", root)
    old = (datetime.datetime.now() - datetime.timedelta(days=800)).timestamp()
    os.utime(tmp_path / "etc/pki/tls/certs/ca-bundle.crt", (old, old))
    finding = local(tmp_path)
    assert finding.code == "truststore.stale"
    assert finding.details["store_date"]["from"] == "file modification time"
    assert "update-ca-trust" in finding.remediation


def test_rhel_dates_the_store_by_the_packaged_mozilla_list_not_the_extracted_bundle(
    tmp_path: Path, root: Authority
) -> None:
    """update-ca-trust rewrites the bundle (a corporate CA was just added); the Mozilla list inside is old."""
    fake_host(tmp_path, "rhel", "/etc/pki/tls/certs/ca-bundle.crt", root)  # written now: looks fresh
    source = tmp_path / "usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit"
    source.parent.mkdir(parents=True)
    source.write_text("# p11-kit trust source\n")
    old = (datetime.datetime.now() - datetime.timedelta(days=900)).timestamp()
    os.utime(source, (old, old))
    finding = local(tmp_path)
    assert finding.code == "truststore.stale"
    assert finding.details["store_date"]["from"] == (
        "ca-certificates package (/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit, as packaged)"
    )
    assert finding.details["store_age_days"] >= 899
    assert "dnf update ca-certificates && update-ca-trust" in finding.remediation


def test_alpine_package_date_from_apk_database(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "alpine", "/etc/ssl/cert.pem", root)
    db = tmp_path / "lib/apk/db/installed"
    db.parent.mkdir(parents=True)
    recent = (TODAY - datetime.timedelta(days=30)).strftime("%Y%m%d")
    db.write_text(f"P:musl\nV:1.2.4-r2\n\nP:ca-certificates\nV:{recent}-r0\n")
    finding = local(tmp_path)
    assert finding.code == "truststore.ok"
    assert finding.details["store_date"]["from"] == "ca-certificates package (apk)"


def test_macos_uses_the_keychain(tmp_path: Path) -> None:
    finding = local(tmp_path, platform="darwin")
    assert finding.code == "truststore.ok"
    assert "macOS keychain" in finding.summary


def test_certifi_version_date_is_reported(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "debian", "/etc/ssl/certs/ca-certificates.crt", root)
    version, day = trust.certifi_date()
    finding = local(tmp_path)
    assert finding.details["certifi"]["version"] == version
    assert day is not None and finding.details["certifi"]["age_days"] == (TODAY - day).days


def fresh_debian(tmp_path: Path, root: Authority) -> Path:
    """A fake Debian host whose CA bundle was just written: a fresh, present store."""
    return fake_host(tmp_path / "host", "debian", "/etc/ssl/certs/ca-certificates.crt", root)


def stale_ubuntu(tmp_path: Path, root: Authority) -> Path:
    host = fake_host(tmp_path / "host", "ubuntu", "/etc/ssl/certs/ca-certificates.crt", root)
    changelog = host / "usr/share/doc/ca-certificates/changelog.Debian.gz"
    changelog.parent.mkdir(parents=True)
    with gzip.open(changelog, "wt") as handle:
        handle.write("ca-certificates (20210119) unstable; urgency=medium\n\n  * update\n")
    return host


def truststore_results(results: list[CheckResult]) -> CheckResult:
    """The check's one result: it always targets ``local``."""
    found = [result for result in results if result.id == "truststore"]
    assert [result.target for result in found] == ["local"], [(r.id, r.target, r.code) for r in results]
    return found[0]


def test_system_store_trusting_a_private_ca_disagrees_with_certifi(
    tmp_path: Path, root: Authority, root_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corporate CA installed in the system store: clients that ship certifi would fail."""
    monkeypatch.setenv("SSL_CERT_FILE", str(root_file))
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", root=fresh_debian(tmp_path, root)))
    address = f"127.0.0.1:{port}"
    assert only(results, "tls", address).code == "tls.ok"
    result = truststore_results(results)
    assert result.code == "truststore.disagree" and result.status is Status.WARN
    assert f"the system store trusts {address} but certifi's bundle rejects it" in result.summary
    assert "clients that ship certifi (pip, requests, httpx) would fail" in result.summary
    stores = result.details["stores"][address]
    assert stores["system"] == "trusted" and stores["certifi"].startswith("rejected: ")
    assert result.details["disagree"] == [
        {
            "endpoint": address,
            "rejected_by": "certifi",
            "error": stores["certifi"][len("rejected: "):],
            "consequence": "clients that ship certifi (pip, requests, httpx) would fail",
        }
    ]
    # The store facts stay in the same result.
    assert result.details["store"] == "/etc/ssl/certs/ca-certificates.crt"
    assert "(store: /etc/ssl/certs/ca-certificates.crt" in result.summary
    assert f"The CA of {address} is only in the system store" in result.remediation
    assert "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" in result.remediation


def test_stale_store_outranks_a_disagreement_and_names_both(
    tmp_path: Path, root: Authority, root_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(root_file))
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", root=stale_ubuntu(tmp_path, root)))
    address = f"127.0.0.1:{port}"
    result = truststore_results(results)
    assert result.code == "truststore.stale" and result.status is Status.WARN
    assert "the system store is" in result.summary and "days old" in result.summary
    assert f"also the stores disagree: the system store trusts {address}" in result.summary
    assert result.details["disagree"][0]["rejected_by"] == "certifi"
    assert result.details["store_date"]["date"] == "2021-01-19"
    assert "apt-get" in result.remediation and f"The CA of {address}" in result.remediation


def test_stores_agree_when_the_ca_bundle_is_given_to_both(tmp_path: Path, root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(
            tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file),
                                         root=fresh_debian(tmp_path, root))
        )
    address = f"127.0.0.1:{port}"
    result = truststore_results(results)
    assert result.code == "truststore.ok" and result.status is Status.PASS
    assert f"both stores judge {address} alike" in result.summary
    assert result.details["stores"] == {address: {"system": "trusted", "certifi": "trusted"}}
    assert "disagree" not in result.details and "not_compared" not in result.details


def test_missing_store_outranks_everything_and_still_shows_the_verdicts(
    tmp_path: Path, root: Authority, root_file: Path
) -> None:
    host = fake_host(tmp_path / "host", "alpine", None, root)
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(
            tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), root=host)
        )
    result = truststore_results(results)
    assert result.code == "truststore.missing" and result.status is Status.FAIL
    assert "apk add ca-certificates" in result.remediation
    assert result.details["stores"] == {f"127.0.0.1:{port}": {"system": "trusted", "certifi": "trusted"}}


def test_a_failing_tls_result_does_not_skip_the_trust_stores(tmp_path: Path, root: Authority) -> None:
    """Both stores reject a private CA: tls fails, and truststore still reports the stores and both verdicts."""
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", root=fresh_debian(tmp_path, root)))
    address = f"127.0.0.1:{port}"
    assert only(results, "tls", address).status is Status.FAIL
    result = truststore_results(results)
    assert result.code == "truststore.ok", result.summary
    verdicts = result.details["stores"][address]
    assert verdicts["system"].startswith("rejected: ") and verdicts["certifi"].startswith("rejected: ")


def test_one_set_of_handshakes_per_endpoint_whether_or_not_tls_runs(
    tmp_path: Path, root: Authority, root_file: Path
) -> None:
    leaf = root.issue("127.0.0.1")
    host = fresh_debian(tmp_path, root)
    counts = {}
    codes = {}
    for label, modules in (("tls", (tls,)), ("both", (tls, truststore)), ("truststore", (truststore,))):
        log = ServerLog()
        with tls_server(leaf.chain_pem(), leaf.key_pem, log=log) as port:
            results = run(*modules, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), root=host))
        counts[label] = log.handshakes
        codes[label] = [result.code for result in results]
    assert counts["tls"] >= 2  # the system store and certifi
    assert counts["both"] == counts["tls"] == counts["truststore"]
    assert codes["both"] == ["tls.ok", "truststore.ok"]
    # Without the tls check, the truststore probe does the same handshakes itself.
    assert codes["truststore"] == ["truststore.ok"]


def test_an_endpoint_whose_tcp_failed_is_not_compared_and_not_contacted(
    tmp_path: Path, root: Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    handshakes: list[str] = []
    assess = tls.assessment

    def counted(ctx: Any, endpoint: Any) -> tls_probe.Assessment:
        handshakes.append(endpoint.address)
        return assess(ctx, endpoint)

    monkeypatch.setattr(tls, "assessment", counted)
    port = closed_port()
    address = f"127.0.0.1:{port}"
    ctx = ctx_for(f"https://{address}", root=fresh_debian(tmp_path, root), timeout=0.5)
    with_tls = run(tcp, tls, truststore, ctx=ctx)
    assert only(with_tls, "tls", address).code == "prerequisite.failed"
    result = truststore_results(with_tls)
    assert result.code == "truststore.ok"
    assert result.details["not_compared"] == {address: f"the tls check did not judge {address} (prerequisite.failed)"}
    assert f"no comparison for {address}" in result.summary
    assert handshakes == []

    ctx = ctx_for(f"https://{address}", root=fresh_debian(tmp_path / "again", root), timeout=0.5)
    without_tls = run(tcp, truststore, ctx=ctx)
    result = truststore_results(without_tls)
    assert result.details["not_compared"] == {address: f"tcp {address} failed (tcp.refused)"}
    assert handshakes == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_endpoint_offering_only_tls10_is_not_compared(tmp_path: Path, root: Authority) -> None:
    def tls10_only(context: ssl.SSLContext) -> None:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")

    leaf = root.issue("127.0.0.1")
    try:
        with tls_server(leaf.chain_pem(), leaf.key_pem, configure=tls10_only) as port:
            results = run(tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", root=fresh_debian(tmp_path, root)))
    except (ssl.SSLError, ValueError):
        pytest.skip("this OpenSSL build cannot serve TLS 1.0")
    address = f"127.0.0.1:{port}"
    assert only(results, "tls", address).details["offered_protocol"] == "TLSv1"
    result = truststore_results(results)
    assert result.code == "truststore.ok"
    assert "disagree" not in result.details
    verdicts = result.details["stores"][address]
    if "not_compared" in result.details:  # the verified handshake broke on the protocol
        assert result.details["not_compared"][address].startswith(f"no TLS handshake with {address} to judge")
        assert verdicts["certifi"] == "no verdict: not tried"
    else:  # a default context that still speaks TLS 1.0 (Python 3.9) rejects the certificate first, in both stores
        assert verdicts["system"].startswith("rejected: ") and verdicts["certifi"].startswith("rejected: ")


def test_certifi_trusting_what_the_system_store_rejects_names_system_clients(
    tmp_path: Path, root: Authority
) -> None:
    """The reverse direction (the system store lacks a public root): fed the handshakes as the tls check records
    them, since no test may change certifi's bundle."""
    host = fake_host(tmp_path / "host", "rhel", "/etc/pki/tls/certs/ca-bundle.crt", root)
    ctx = ctx_for("https://tenant.dtdoctor.test", root=host)
    endpoint = ctx.settings.remote_endpoints[0]
    route = proxy_check.route(ctx, endpoint)
    system = tls_probe.Handshake(trust.SYSTEM, tls_probe.VERIFY_FAILED, verify_code=20,
                                 verify_message="unable to get local issuer certificate")
    certifi = tls_probe.Handshake(trust.CERTIFI, tls_probe.OK, version="TLSv1.3")
    shared = {(tls.ID, endpoint.address): tls_probe.Assessment(endpoint, route, system, certifi)}
    finding = truststore.probe_trust([endpoint], ProbeContext(ctx, {}, shared), "linux", TODAY)
    assert finding.code == "truststore.disagree"
    assert (
        "certifi's bundle trusts tenant.dtdoctor.test:443 but the system store rejects it "
        "(unable to get local issuer certificate): OneAgent, curl and every client using the system store would "
        "fail" in finding.summary
    )
    assert finding.details["disagree"][0]["rejected_by"] == "system"
    assert finding.details["stores"]["tenant.dtdoctor.test:443"] == {
        "system": "rejected: unable to get local issuer certificate",
        "certifi": "trusted",
    }
    assert "dnf update ca-certificates && update-ca-trust" in finding.remediation


def test_without_a_url_only_the_local_store_is_reported(tmp_path: Path, root: Authority) -> None:
    results = run(truststore, ctx=context({}, root=fresh_debian(tmp_path, root)))
    result = truststore_results(results)
    assert result.code == "truststore.ok"
    assert result.details["stores"] == {}
    assert "truststore.agree" not in truststore.CODES
