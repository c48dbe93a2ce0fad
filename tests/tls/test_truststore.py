"""The truststore check: store discovery on fake hosts, package dating, content against certifi's list, and what
the reached endpoints need of the system store."""

from __future__ import annotations

import datetime
import gzip
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from dtdoctor.checks import tcp, tls, truststore
from dtdoctor.checks.base import Finding, ProbeContext
from dtdoctor.core.model import CheckResult, Status
from dtdoctor.net import tls_probe, trust
from tests.support import ca_packages
from tests.support.factories import context
from tests.support.listeners import closed_port
from tests.support.tls_servers import Authority, ServerLog, tls_server
from tests.tls.helpers import ctx_for, only, run

TODAY = datetime.date.today()


MOZILLA = Path(certifi.where()).read_bytes()
MOZILLA_COUNT = MOZILLA.count(b"-----BEGIN CERTIFICATE-----")


def pem_bundle(root: Authority, count: int) -> bytes:
    return root.cert_pem * count


def fake_host(tmp_path: Path, os_id: str, bundle: str | None, root: Authority, count: int = 3) -> Path:
    """A host whose store holds Mozilla's current list (certifi's) plus ``count`` copies of a local CA."""
    (tmp_path / "etc").mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/os-release").write_text(f'ID={os_id}\nPRETTY_NAME="{os_id} test"\n')
    if bundle:
        path = tmp_path / bundle.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(MOZILLA + pem_bundle(root, count))
        local = tmp_path / "usr/local/share/ca-certificates/corp.crt"
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(root.cert_pem)
    return tmp_path


def local(tmp_path: Path, environ: dict[str, str] | None = None, platform: str = "linux") -> Finding:
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
    assert finding.details["roots"] == MOZILLA_COUNT + 4
    assert f"{bundle}" in finding.summary and f"{MOZILLA_COUNT + 4} certificate(s)" in finding.summary
    counts = finding.details["content"]["counts"]
    assert (counts["missing"], counts["removed"], counts["local"]) == (0, 0, 1)
    # No package on this fake host: said, and the bundle's file time is not used instead.
    assert "no package date found" in finding.summary
    assert finding.details["store_date"] is None


def test_ssl_cert_file_overrides_the_distribution_default(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "debian", "/etc/ssl/certs/ca-certificates.crt", root, count=5)
    custom = tmp_path / "opt/corp/ca.pem"
    custom.parent.mkdir(parents=True)
    custom.write_bytes(MOZILLA + pem_bundle(root, 2))
    finding = local(tmp_path, {"SSL_CERT_FILE": "/opt/corp/ca.pem"})
    assert finding.code == "truststore.ok"
    assert finding.details["store"] == "/opt/corp/ca.pem"
    assert finding.details["locations"][0]["origin"] == "SSL_CERT_FILE"
    assert finding.details["roots"] == MOZILLA_COUNT + 2


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


def test_hashed_directory_is_read_root_by_root(tmp_path: Path, root: Authority) -> None:
    """No bundle, only OpenSSL's hashed folder: every certificate in it is compared."""
    fake_host(tmp_path, "debian", None, root)
    folder = tmp_path / "etc/ssl/certs"
    folder.mkdir(parents=True)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", MOZILLA, re.DOTALL)
    for index, block in enumerate(blocks[:-3]):  # three of Mozilla's roots left out
        (folder / f"{index:08x}.0").write_bytes(block)
    finding = local(tmp_path)
    assert finding.code == "truststore.outdated"
    assert finding.details["roots"] == len(blocks) - 3
    assert finding.details["content"]["counts"]["missing"] == 3
    assert "3 root(s) of Mozilla's list missing that no reached endpoint needs" in finding.summary


def debian_changelog(host: Path, name: str, version: str) -> None:
    changelog = host / "usr/share/doc/ca-certificates" / name
    changelog.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(changelog, "wt") as handle:
        handle.write(f"ca-certificates ({version}) unstable; urgency=medium\n\n  * update\n")


@pytest.mark.parametrize("name", ["changelog.gz", "changelog.Debian.gz"])
def test_debian_package_dated_from_either_changelog_name(tmp_path: Path, root: Authority, name: str) -> None:
    """Debian's native package ships changelog.gz (Ubuntu's too); changelog.Debian.gz exists in the wild."""
    fake_host(tmp_path, "ubuntu", "/etc/ssl/certs/ca-certificates.crt", root)
    debian_changelog(tmp_path, name, "20240203~22.04.1")
    finding = local(tmp_path)
    assert finding.details["package"]["version"] == "20240203~22.04.1"
    assert finding.details["store_date"] == {
        "date": "2024-02-03",
        "from": f"ca-certificates 20240203~22.04.1 (/usr/share/doc/ca-certificates/{name})",
    }
    # An old package whose content is Mozilla's current list is not a problem: the content is judged.
    assert finding.code == "truststore.ok", finding.summary
    assert "ca-certificates 20240203~22.04.1 of 2024-02-03" in finding.summary


def test_bundle_file_time_never_dates_the_store(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "rhel", "/etc/pki/tls/certs/ca-bundle.crt", root)
    old = (datetime.datetime.now() - datetime.timedelta(days=800)).timestamp()
    os.utime(tmp_path / "etc/pki/tls/certs/ca-bundle.crt", (old, old))
    finding = local(tmp_path)
    assert finding.details["store_date"] is None
    assert "no package date found" in finding.summary
    assert "package" not in finding.details


# The list as Fedora/RHEL's ca-certificates.spec installs it: the header its p11-kit conversion writes
# ("# Generated from:" and NSS_BUILTINS_LIBRARY_VERSION from nssckbi.h), and the file time of certdata.txt
# (`install -p`, `touch -r`), which rpm keeps.
P11KIT_HEADER = """# This is a bundle of X.509 certificates of public Certificate
# Authorities.  It was generated from the Mozilla root CA list.
# These certificates and trust/distrust attributes use the file format accepted
# by the p11-kit-trust module.
#
# Source: nss/lib/ckfw/builtins/certdata.txt
# Source: nss/lib/ckfw/builtins/nssckbi.h
#
# Generated from:
# NSS_BUILTINS_LIBRARY_VERSION "2.60"
#
"""


def test_rhel_dates_the_store_by_the_packaged_p11kit_list_not_the_extracted_bundle(
    tmp_path: Path, root: Authority
) -> None:
    """update-ca-trust rewrites the bundle (a corporate CA was just added); the packaged list keeps its time."""
    fake_host(tmp_path, "rhel", "/etc/pki/tls/certs/ca-bundle.crt", root)  # written now
    source = tmp_path / "usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit"
    source.parent.mkdir(parents=True)
    source.write_text(P11KIT_HEADER)
    packaged = datetime.datetime(2023, 7, 26, 12, 0).timestamp()
    os.utime(source, (packaged, packaged))
    finding = local(tmp_path)
    assert finding.details["store_date"]["date"] == "2023-07-26"
    assert finding.details["package"]["version"] == "(NSS builtins 2.60)"
    assert "usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit" in finding.details["package"]["from"]
    assert finding.code == "truststore.ok"


def test_alpine_package_from_the_apk_database(tmp_path: Path, root: Authority) -> None:
    """apk's installed database: blocks of ``K:value`` lines (Alpine wiki, "Apk spec", installed database)."""
    fake_host(tmp_path, "alpine", "/etc/ssl/cert.pem", root)
    db = tmp_path / "lib/apk/db/installed"
    db.parent.mkdir(parents=True)
    db.write_text("P:musl\nV:1.2.4-r2\nA:x86_64\n\nP:ca-certificates\nV:20240705-r0\nA:x86_64\nt:1720190000\n")
    finding = local(tmp_path)
    assert finding.code == "truststore.ok"
    assert finding.details["package"] == {
        "name": "ca-certificates", "version": "20240705-r0", "from": "apk database (/lib/apk/db/installed)",
    }
    assert finding.details["store_date"]["date"] == "2024-07-05"


def test_suse_says_no_package_date_was_found(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "opensuse-leap", "/var/lib/ca-certificates/ca-bundle.pem", root)
    finding = local(tmp_path)
    assert finding.details["store_date"] is None
    assert "no package date found" in finding.summary


def test_macos_uses_the_keychain(tmp_path: Path) -> None:
    finding = local(tmp_path, platform="darwin")
    assert finding.code == "truststore.ok"
    assert "macOS keychain" in finding.summary
    assert "the store cannot be read root by root" in finding.summary


def test_certifi_version_date_is_reported(tmp_path: Path, root: Authority) -> None:
    fake_host(tmp_path, "debian", "/etc/ssl/certs/ca-certificates.crt", root)
    version, day = trust.certifi_date()
    finding = local(tmp_path)
    assert finding.details["certifi"]["version"] == version
    assert finding.details["certifi"]["roots"] == MOZILLA_COUNT
    assert day is not None and finding.details["certifi"]["age_days"] == (TODAY - day).days


def fresh_debian(tmp_path: Path, root: Authority) -> Path:
    """A fake Debian host whose store holds Mozilla's current list and a local CA."""
    return fake_host(tmp_path / "host", "debian", "/etc/ssl/certs/ca-certificates.crt", root)


def lacking_debian(tmp_path: Path, root: Authority, lacking: int = 2) -> Path:
    """A fake Debian host whose store lacks the last ``lacking`` roots of Mozilla's list."""
    host = fresh_debian(tmp_path, root)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", MOZILLA, re.DOTALL)
    (host / "etc/ssl/certs/ca-certificates.crt").write_bytes(b"".join(blocks[:-lacking]) + root.cert_pem)
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
    assert stores["root"] == root.cert.subject.rfc4514_string()
    assert stores["in_system_store"] is True and stores["in_certifi"] is False
    # The store facts stay in the same result.
    assert result.details["store"] == "/etc/ssl/certs/ca-certificates.crt"
    assert f"The CA of {address} is only in the system store" in result.remediation
    assert "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" in result.remediation


def test_outdated_store_outranks_a_disagreement_and_names_both(
    tmp_path: Path, root: Authority, root_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(root_file))
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(tls, truststore, ctx=ctx_for(f"https://127.0.0.1:{port}", root=lacking_debian(tmp_path, root)))
    address = f"127.0.0.1:{port}"
    result = truststore_results(results)
    assert result.code == "truststore.outdated" and result.status is Status.WARN
    assert "2 root(s) of Mozilla's list missing that no reached endpoint needs" in result.summary
    assert f"also certifi's bundle rejects {address}, which the system store trusts" in result.summary
    assert len(result.summary) <= truststore.SUMMARY_MAX, result.summary
    assert result.details["also"] == ["truststore.disagree"]
    assert len(result.details["root_groups"]["missing"]) == 2
    assert f"The CA of {address}" in result.remediation


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
    assert re.search(rf"the root of {address} \('[^']+'\) is in the system store", result.summary), result.summary
    stores = result.details["stores"][address]
    assert (stores["system"], stores["certifi"]) == ("trusted", "trusted")
    assert stores["root"] == root.cert.subject.rfc4514_string() and stores["in_system_store"] is True
    assert result.details["also"] == []


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
    stores = result.details["stores"][f"127.0.0.1:{port}"]
    assert (stores["system"], stores["certifi"]) == ("trusted", "trusted")


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


def test_the_endpoints_are_judged_from_the_tls_results_only(tmp_path: Path, root: Authority, root_file: Path) -> None:
    """truststore waits for the tls results it reads and never shakes hands itself."""
    leaf = root.issue("127.0.0.1")
    host = fresh_debian(tmp_path, root)
    counts = {}
    for label, modules in (("tls", (tls,)), ("both", (tls, truststore)), ("truststore", (truststore,))):
        log = ServerLog()
        with tls_server(leaf.chain_pem(), leaf.key_pem, log=log) as port:
            results = run(*modules, ctx=ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file), root=host))
        counts[label] = log.handshakes
        if label == "truststore":
            result = truststore_results(results)
            assert result.details["stores"][f"127.0.0.1:{port}"]["not_compared"] == "the tls check was not run"
            assert "no endpoint was reached: the content judgement stands alone" in result.summary
    assert counts["tls"] >= 2  # the system store and certifi
    assert counts["both"] == counts["tls"]
    assert counts["truststore"] == 0


def test_an_endpoint_whose_tcp_failed_is_not_compared(tmp_path: Path, root: Authority) -> None:
    port = closed_port()
    address = f"127.0.0.1:{port}"
    ctx = ctx_for(f"https://{address}", root=fresh_debian(tmp_path, root), timeout=0.5)
    results = run(tcp, tls, truststore, ctx=ctx)
    assert only(results, "tls", address).code == "prerequisite.failed"
    result = truststore_results(results)
    assert result.code == "truststore.ok"
    assert result.details["stores"][address]["not_compared"] == (
        f"the tls check did not judge {address} (prerequisite.failed)"
    )
    assert "no endpoint was reached: the content judgement stands alone" in result.summary
    assert result.details["content_judgement"] == "stands alone: no endpoint reached"


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
    verdicts = result.details["stores"][address]
    if "not_compared" in verdicts:  # the verified handshake broke on the protocol
        assert verdicts["not_compared"].startswith(f"the tls check did not judge {address}") or verdicts[
            "not_compared"
        ].startswith(f"no TLS handshake with {address} to judge")
    else:  # a default context that still speaks TLS 1.0 (Python 3.9) rejects the certificate first, in both stores
        assert verdicts["system"].startswith("rejected: ") and verdicts["certifi"].startswith("rejected: ")


def look_alike_chain(mozilla_root_subject: x509.Name) -> tuple[bytes, ...]:
    """A leaf and an intermediate whose issuer is named like a root of Mozilla's list (signed by a test key)."""
    stand_in = Authority(key=None, cert=None)
    stand_in.cert = (
        x509.CertificateBuilder()
        .subject_name(mozilla_root_subject)
        .issuer_name(mozilla_root_subject)
        .public_key(stand_in.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2040, 1, 1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(stand_in.key, hashes.SHA256())
    )
    intermediate = stand_in.child("dtdoctor Test Issuing CA")
    leaf = intermediate.issue("tenant.dtdoctor.test")
    return tuple(ssl.PEM_cert_to_DER_cert(block.decode()) for block in re.findall(
        rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", leaf.chain_pem(), re.DOTALL))


def test_a_root_an_endpoint_needs_missing_from_the_system_store_fails_naming_it(
    tmp_path: Path, root: Authority
) -> None:
    """The system store lacks a public root that certifi has. The tls result is the tls check's own judgement of
    the handshakes as it records them (no test can change certifi's bundle or get a public CA's signature)."""
    host = lacking_debian(tmp_path, root, lacking=1)
    lacking = x509.load_pem_x509_certificate(
        re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", MOZILLA, re.DOTALL)[-1]
    )
    ctx = ctx_for("https://tenant.dtdoctor.test", root=host)
    endpoint = ctx.settings.remote_endpoints[0]
    chain = look_alike_chain(lacking.subject)
    system = tls_probe.Handshake(trust.SYSTEM, tls_probe.VERIFY_FAILED, verify_code=20,
                                 verify_message="unable to get local issuer certificate")
    certifi_ok = tls_probe.Handshake(trust.CERTIFI, tls_probe.OK, version="TLSv1.3", chain=chain, chain_complete=True)
    found = tls_probe.Assessment(endpoint, proxy_route(ctx, endpoint), system, certifi_ok)
    finding = tls.judge(endpoint, found, 14, datetime.datetime.now(datetime.timezone.utc))
    tls_result = CheckResult(id="tls", target=endpoint.address, title="TLS", status=Status.FAIL, code=finding.code,
                             summary=finding.summary, details=dict(finding.details))
    key = ("tls", endpoint.address)
    result = truststore.probe_trust([endpoint], ProbeContext(ctx, {key: tls_result}, {key: found}), "linux", TODAY)
    assert result.code == "truststore.root_missing"
    assert truststore.CODES[result.code].status is Status.FAIL
    name = lacking.subject.rfc4514_string()
    assert "tenant.dtdoctor.test:443 needs the root '" in result.summary
    assert "which the system store lacks (certifi has it)" in result.summary
    stores = result.details["stores"]["tenant.dtdoctor.test:443"]
    assert stores["root"] == name and stores["in_system_store"] is False and stores["in_certifi"] is True
    # The missing root the endpoint needs comes first in the details, and is not counted as an unneeded one.
    assert [entry["subject"] for entry in result.details["root_groups"]["missing_needed"]] == [name]
    assert "missing" not in result.details["root_groups"]
    assert "update-ca-certificates" in result.remediation and "--ca-bundle" in result.remediation
    assert "/usr/local/share/ca-certificates/" in result.remediation


def proxy_route(ctx: object, endpoint: object) -> object:
    from dtdoctor.net import proxy as net_proxy

    return net_proxy.route(ctx, endpoint)  # type: ignore[arg-type]


def test_without_a_url_only_the_local_store_is_reported(tmp_path: Path, root: Authority) -> None:
    results = run(truststore, ctx=context({}, root=fresh_debian(tmp_path, root)))
    result = truststore_results(results)
    assert result.code == "truststore.ok"
    assert result.details["stores"] == {}
    assert "no HTTPS endpoint configured: the content judgement stands alone" in result.summary


# --- real Debian packages -------------------------------------------------------------------------------------------

BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


@pytest.fixture(scope="session")
def debian_stores(tmp_path_factory: pytest.TempPathFactory) -> list[ca_packages.DebianStore]:
    """Every ca-certificates version apt offers, downloaded and installed as dpkg would, each under its root."""
    downloads = tmp_path_factory.mktemp("debs")
    stores = []
    for version in ca_packages.offered_versions():
        deb = ca_packages.download(version, downloads)
        root = tmp_path_factory.mktemp("debian-host")
        stores.append(ca_packages.install(deb, root, BOOKWORM))
    return stores


def independent_fingerprints(bundle: Path) -> dict[str, datetime.datetime]:
    """SHA-256 fingerprints and notAfter of every certificate, by the openssl command line."""
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", bundle.read_text(), re.DOTALL)
    found = {}
    for block in blocks:
        out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-enddate"], input=block,
                             capture_output=True, text=True, check=True).stdout
        fingerprint = re.search(r"Fingerprint=([0-9A-F:]+)", out)
        end = re.search(r"notAfter=(.+)", out)
        assert fingerprint and end, out
        found[fingerprint.group(1)] = datetime.datetime.strptime(end.group(1).strip(), "%b %d %H:%M:%S %Y %Z")
    return found


def test_real_debian_packages_are_dated_and_judged_like_an_independent_count(
    debian_stores: list[ca_packages.DebianStore],
) -> None:
    mozilla = independent_fingerprints(Path(certifi.where()))
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for store in debian_stores:
        finding = local(store.root)
        system = independent_fingerprints(store.bundle)
        local_added = 0  # the package's postinst adds nothing local
        expected = {
            "held": len(system),
            "mozilla": len(mozilla),
            "missing": len(set(mozilla) - set(system)),
            "expired": sum(1 for end in system.values() if end < now),
            "removed": len(set(system) - set(mozilla)) - local_added,
            "local": local_added,
        }
        assert finding.details["content"]["counts"] == expected, store.version
        day = datetime.date(int(store.version[:4]), int(store.version[4:6]), int(store.version[6:8]))
        assert finding.details["package"]["version"] == store.version
        assert finding.details["store_date"] == {
            "date": day.isoformat(), "from": f"ca-certificates {store.version} (dpkg status (/var/lib/dpkg/status))",
        }
        assert f"ca-certificates {store.version} of {day.isoformat()}" in finding.summary
        differs = expected["missing"] or expected["expired"] or expected["removed"]
        assert finding.code == ("truststore.outdated" if differs else "truststore.ok"), finding.summary
        if differs:  # one short line: the counts that differ; the details name every root
            assert len(finding.summary) <= truststore.SUMMARY_MAX, finding.summary
            assert all(f"{expected[group]} {group}" in finding.summary for group in ("expired", "removed")
                       if expected[group]), finding.summary
        else:
            assert f"{expected['missing']} missing, 0 expired, 0 removed by Mozilla" in finding.summary
        # Without dpkg's database the package's own changelog.gz dates it the same.
        (store.root / "var/lib/dpkg/status").rename(store.root / "var/lib/dpkg/status.away")
        try:
            again = local(store.root)
        finally:
            (store.root / "var/lib/dpkg/status.away").rename(store.root / "var/lib/dpkg/status")
        assert again.details["store_date"]["date"] == day.isoformat()
        assert again.details["package"]["from"] == "/usr/share/doc/ca-certificates/changelog.gz"


def test_the_newest_package_apt_offers_is_named_from_the_lists_on_disk(
    debian_stores: list[ca_packages.DebianStore], tmp_path: Path
) -> None:
    """apt's own answer from a root with dpkg's status and an apt list (no network): older -> upgrade to the
    newest; the newest installed -> say so, and what else can help."""
    newest, *older = debian_stores
    lists = []
    for store in debian_stores:
        control = subprocess.run(["dpkg-deb", "-f", str(store.deb)], capture_output=True, text=True,
                                 check=True).stdout
        lists.append(control.strip() + f"\nFilename: pool/main/c/ca-certificates/{store.deb.name}\nSize: 1\n")
    for store in debian_stores:
        (store.root / "etc/apt").mkdir(parents=True, exist_ok=True)
        (store.root / "etc/apt/sources.list").write_text("deb http://deb.debian.org/debian bookworm main\n")
        folder = store.root / "var/lib/apt/lists"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").write_text("\n".join(lists))
    if older:
        finding = local(older[-1].root)
        assert finding.details["package"]["newest_known"] == newest.version
        assert f"Upgrade to ca-certificates {newest.version}" in (finding.remediation or "")
    finding = local(newest.root)
    assert finding.details["package"]["newest_known"] == newest.version
    if finding.code != "truststore.ok":
        assert f"ca-certificates {newest.version} is already the newest package" in (finding.remediation or "")


def test_this_machines_own_store(capsys: pytest.CaptureFixture[str]) -> None:
    """The real store of the machine the suite runs on, judged against an independent count."""
    finding = truststore.probe_local(context(dict(os.environ), root=Path("/")), sys.platform, TODAY)
    if finding.code == "truststore.missing" or finding.details.get("store_kind") != "file":
        pytest.skip(f"no readable CA bundle on this machine ({finding.summary})")
    counts = finding.details["content"]["counts"]
    system = independent_fingerprints(Path(finding.details["store"]))
    mozilla = independent_fingerprints(Path(certifi.where()))
    assert counts["held"] == len(system)
    assert counts["missing"] == len(set(mozilla) - set(system))
    assert counts["removed"] + counts["local"] == len(set(system) - set(mozilla))
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert counts["expired"] == sum(1 for end in system.values() if end < now)
    assert counts["mozilla"] == len(mozilla)
    with capsys.disabled():
        print(f"\nthis machine's store: {finding.summary}")
    assert len(finding.summary) <= truststore.SUMMARY_MAX, finding.summary


def test_the_needed_root_follows_openssl_trusted_first_through_a_cross_sign() -> None:
    """leaf <- issuing CA <- 'New Root' (cross-signed by 'Old Root'): a store that knows 'New Root' anchors there."""
    old = Authority("Old Root")
    new_cross_signed = old.child("New Root")
    issuing = new_cross_signed.child("Issuing CA")
    leaf = issuing.issue("tenant.dtdoctor.test")
    chain = [certs_facts(leaf.cert)] + [certs_facts(cert) for cert in (issuing.cert, new_cross_signed.cert)]
    new_subject = new_cross_signed.cert.subject.rfc4514_string()
    old_subject = old.cert.subject.rfc4514_string()
    assert truststore.needed_root(chain, {new_subject, old_subject}) == new_subject
    assert truststore.needed_root(chain, {old_subject}) == old_subject
    assert truststore.needed_root(chain, set()) == old_subject  # the top certificate's issuer
    assert truststore.needed_root([], {old_subject}) == ""


def certs_facts(cert: x509.Certificate) -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    from dtdoctor.net.certs import cert_facts

    return cert_facts(cert.public_bytes(Encoding.DER))


def apk_index(folder: Path, *versions: str) -> None:
    """An index as `apk update` caches it: a gzipped tar holding the text file APKINDEX, one block of ``K:value``
    lines per package (Alpine wiki, "Apk spec", APKINDEX format)."""
    import io
    import tarfile

    text = "".join(f"C:Q1abc=\nP:ca-certificates\nV:{version}\nA:x86_64\nS:1\nI:1\nT:CA\n\n" for version in versions)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "APKINDEX.2c4ac24e.tar.gz", "w:gz") as archive:
        data = text.encode()
        member = tarfile.TarInfo("APKINDEX")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize(("installed", "offered", "newest"), [
    ("20240226-r0", ("20240226-r0", "20241121-r1"), False),
    ("20241121-r1", ("20241121-r1",), True),
])
def test_alpine_newest_package_from_apks_cached_indexes(
    tmp_path: Path, root: Authority, installed: str, offered: tuple[str, ...], newest: bool
) -> None:
    host = lacking_debian(tmp_path, root)  # a store that lacks roots, so the remediation speaks
    (host / "etc/os-release").write_text("ID=alpine\n")
    (host / "etc/ssl/certs/ca-certificates.crt").rename(host / "etc/ssl/cert.pem")
    db = host / "lib/apk/db/installed"
    db.parent.mkdir(parents=True)
    db.write_text(f"P:ca-certificates\nV:{installed}\nA:x86_64\n")
    apk_index(host / "var/cache/apk", *offered)
    finding = local(host)
    assert finding.code == "truststore.outdated"
    assert finding.details["package"]["newest_known"] == max(offered)
    if newest:
        assert f"ca-certificates {installed} is already the newest package" in (finding.remediation or "")
    else:
        assert f"Upgrade to ca-certificates {max(offered)}" in (finding.remediation or "")
        assert "apk upgrade ca-certificates" in (finding.remediation or "")


def test_without_local_package_metadata_the_newest_is_not_claimed(tmp_path: Path, root: Authority) -> None:
    host = lacking_debian(tmp_path, root)
    debian_changelog(host, "changelog.gz", "20230311+deb12u1")
    finding = local(host)
    assert "newest_known" not in finding.details["package"]
    assert "already the newest" not in (finding.remediation or "")
    assert "apt-get update && apt-get install --only-upgrade ca-certificates" in (finding.remediation or "")


def test_an_outdated_store_is_one_short_line_in_nagios_and_quiet_console(tmp_path: Path, root: Authority) -> None:
    """The summary is what -q prints and what Nagios' first line holds: one short line; the details the rest."""
    from dtdoctor.render.nagios import SERVICE
    from tests.support.reports import run_cli

    fake_host(tmp_path, "debian", None, root)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", MOZILLA, re.DOTALL)
    bundle = tmp_path / "etc/ssl/certs/ca-certificates.crt"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b"".join(blocks[:-3]) + pem_bundle(root, 2))  # three of Mozilla's roots left out
    args = ["check", "--root", str(tmp_path), "--only", "truststore", "--warn-ok"]
    nagios = run_cli([*args, "-f", "nagios"])
    status = nagios.stdout.splitlines()[0].split(" | ")[0]
    assert status.startswith(f"{SERVICE} OK - ") and "truststore" in status  # --warn-ok: exit 0
    assert len(status) <= 80 + truststore.SUMMARY_MAX, status
    quiet = run_cli([*args, "-q", "--no-color"])
    line = next(text for text in quiet.stdout.splitlines() if "[truststore.outdated]" in text)
    assert "3 root(s) of Mozilla's list missing" in line and len(line) <= 40 + truststore.SUMMARY_MAX, line
