"""The truststore check: store discovery on fake hosts, freshness, and system-vs-certifi verdicts."""

from __future__ import annotations

import datetime
import gzip
import os
from pathlib import Path

import pytest

from dtdoctor.checks import truststore
from dtdoctor.model import Status
from dtdoctor.net import trust
from tests.support.factories import context
from tests.support.tls_servers import Authority, tls_server
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


def test_system_store_trusting_a_private_ca_disagrees_with_certifi(
    root: Authority, root_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corporate CA installed in the system store: certifi users would fail."""
    monkeypatch.setenv("SSL_CERT_FILE", str(root_file))
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(truststore, ctx=ctx_for(f"https://127.0.0.1:{port}"))
    result = only(results, "truststore", f"127.0.0.1:{port}")
    assert result.code == "truststore.disagree" and result.status is Status.WARN
    assert result.details["rejected_by"] == "certifi"
    assert "certifi" in result.summary and "would fail" in result.summary
    assert result.details["trust_stores"]["system"] == "trusted"


def test_stores_agree_when_the_ca_bundle_is_given_to_both(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file)))
    result = only(results, "truststore", f"127.0.0.1:{port}")
    assert result.code == "truststore.agree"
    assert "both trust" in result.summary
    assert only(results, "truststore", "local").code in ("truststore.ok", "truststore.stale")
