"""The tls check against real TLS servers on 127.0.0.1, one per certificate problem."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest

from dtdoctor.checks import tls
from dtdoctor.core.model import Status
from tests.support.listeners import closed_port
from tests.support.tls_servers import Authority, plain_http_port, self_signed, silent_port, tls_server
from tests.tls.helpers import ctx_for, only, run

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def check_server(port: int, ca_file: Path | None, **options) -> object:
    options.setdefault("ca_bundle", str(ca_file) if ca_file else None)
    results = run(tls, ctx=ctx_for(f"https://127.0.0.1:{port}", **options))
    return only(results, "tls", f"127.0.0.1:{port}")


def test_full_chain_is_ok_with_the_evidence(intermediate: Authority, root_file: Path) -> None:
    leaf = intermediate.issue("127.0.0.1", "localhost")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.ok" and result.status is Status.PASS
    details = result.details
    assert details["protocol"] in ("TLSv1.2", "TLSv1.3")
    assert details["cipher"]
    assert details["leaf"]["san"] == ["localhost", "127.0.0.1"]
    assert len(details["leaf"]["sha256"].split(":")) == 32
    assert [c["subject"] for c in details["chain"]][1].endswith("CN=dtdoctor Test Intermediate CA") or \
        "dtdoctor Test Intermediate CA" in details["chain"][1]["subject"]
    assert 88 <= details["days_left"] <= 90
    assert details["route"]["via"] == "direct"
    assert details["trust_stores"]["system"] == "trusted"
    assert "valid 8" in result.summary


def test_expired_certificate(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1", not_before=NOW - 100 * DAY, not_after=NOW - 3 * DAY)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.expired" and result.status is Status.FAIL
    assert "expired 3 day(s) ago" in result.summary
    assert "renewed" in result.remediation
    assert result.details["leaf"]["not_after"].startswith((NOW - 3 * DAY).strftime("%Y-%m-%d"))


def test_not_yet_valid_blames_the_clock_for_a_fresh_certificate(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1", not_before=NOW + DAY, not_after=NOW + 90 * DAY)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.not_yet_valid"
    assert result.details["local_clock_suspect"] is True
    assert "clock is the likelier culprit" in result.summary
    assert "timedatectl" in result.remediation


def test_not_yet_valid_far_in_the_future_blames_the_certificate(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1", not_before=NOW + 200 * DAY, not_after=NOW + 400 * DAY)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.not_yet_valid"
    assert result.details["local_clock_suspect"] is False
    assert "reissued" in result.remediation


def test_expiring_in_three_days_is_a_warning(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1", not_after=NOW + 3 * DAY + datetime.timedelta(hours=2))
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.expiring_soon" and result.status is Status.WARN
    assert "expires in 3 day(s)" in result.summary


def test_expiry_warn_days_setting_is_honoured(root: Authority, root_file: Path) -> None:
    leaf = root.issue("127.0.0.1", not_after=NOW + 3 * DAY + datetime.timedelta(hours=2))
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file, expiry_warn_days=2)
    assert result.code == "tls.ok"


def test_wrong_host_lists_the_names_the_certificate_covers(root: Authority, root_file: Path) -> None:
    leaf = root.issue("tenant.example.com", "*.apps.example.com")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.hostname_mismatch"
    assert result.details["certificate_names"] == ["tenant.example.com", "*.apps.example.com"]
    assert "tenant.example.com" in result.summary and "not 127.0.0.1" in result.summary
    assert result.details["leaf_problems"] == ["hostname_mismatch"]


def test_self_signed(root_file: Path) -> None:
    leaf = self_signed("localhost")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        results = run(tls, ctx=ctx_for(f"https://localhost:{port}", ca_bundle=str(root_file)))
    result = only(results, "tls")
    assert result.code == "tls.self_signed"
    assert "--ca-bundle" in result.remediation
    assert "openssl s_client -connect localhost:" in result.remediation


def test_unknown_ca_names_the_root(root_file: Path) -> None:
    stranger = Authority("Example Corp Private Root")
    leaf = stranger.issue("127.0.0.1")
    with tls_server(leaf.cert_pem + stranger.cert_pem, leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.untrusted_root"
    assert "Example Corp Private Root" in result.summary
    assert result.details["tls_inspection_suspect"] is False
    assert "--ca-bundle" in result.remediation


def test_untrusted_root_without_any_ca_bundle(root: Authority) -> None:
    """The system store does not hold the test CA: that is itself the untrusted_root case."""
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem() + root.cert_pem, leaf.key_pem) as port:
        result = check_server(port, None)
    assert result.code == "tls.untrusted_root"
    assert "ca_bundle" not in result.details


def test_a_lone_leaf_from_an_unknown_issuer_without_aia_says_the_evidence_cannot_tell(root: Authority) -> None:
    """Leaf only, its issuer in no store, no AIA: a missing intermediate and a private root look the same."""
    leaf = root.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, None)
    assert result.code == "tls.unknown_issuer" and result.status is Status.FAIL
    assert "a missing intermediate and an untrusted private root look the same from here" in result.summary
    assert "if it is your organisation's root CA" in result.remediation
    assert "configure 127.0.0.1 with the full chain" in result.remediation
    assert result.details["issuer_download"] is None


def test_inspecting_proxy_ca_is_recognised(root_file: Path) -> None:
    inspector = Authority("Zscaler Root CA", organization="Zscaler Inc.")
    leaf = inspector.issue("127.0.0.1")
    with tls_server(leaf.cert_pem + inspector.cert_pem, leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.untrusted_root"
    assert result.details["tls_inspection_suspect"] is True
    assert "TLS-inspecting proxy" in result.summary
    assert "--ca-bundle" in result.remediation


def test_leaf_without_its_intermediate_is_an_incomplete_chain(intermediate: Authority, root_file: Path) -> None:
    aia_url = f"http://127.0.0.1:{closed_port()}/intermediate.crt"  # tests/tls/test_aia.py downloads it
    leaf = intermediate.issue("127.0.0.1", aia_url=aia_url)
    with tls_server(leaf.chain_pem(with_intermediates=False), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.incomplete_chain"
    assert result.details["missing_issuer_url"] == aia_url
    assert "dtdoctor Test Intermediate CA" in result.summary
    assert "full certificate chain" in result.remediation


def test_silent_server_is_a_tls_timeout() -> None:
    with silent_port() as port:
        result = check_server(port, None, timeout=0.3)
    assert result.code == "tls.timeout"
    assert "accepted TCP" in result.summary


def test_plain_http_port_is_a_handshake_failure() -> None:
    with plain_http_port() as port:
        result = check_server(port, None, timeout=1.0)
    assert result.code == "tls.handshake_failed"
    assert result.details["reason"]
    assert "does not speak TLS" in result.summary


def _tls10_only(context: ssl.SSLContext) -> None:
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls10_only_server_is_a_handshake_failure_naming_the_protocol(root: Authority, root_file: Path) -> None:
    """Nothing newer than TLS 1.0 on offer: no current client connects, so a fail, not a weak_protocol warning."""
    leaf = root.issue("127.0.0.1")
    try:
        with tls_server(leaf.chain_pem(), leaf.key_pem, configure=_tls10_only) as port:
            probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            probe.check_hostname = False
            probe.verify_mode = ssl.CERT_NONE
            probe.minimum_version = ssl.TLSVersion.TLSv1
            probe.set_ciphers("DEFAULT:@SECLEVEL=0")
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw, probe.wrap_socket(raw) as conn:
                assert conn.version() == "TLSv1"
            result = check_server(port, root_file)
    except (ssl.SSLError, ValueError, OSError, AssertionError):
        pytest.skip("this OpenSSL build cannot speak TLS 1.0 at all")
    assert result.code == "tls.handshake_failed"
    assert result.status is Status.FAIL
    assert result.details["offered_protocol"] == "TLSv1"
    assert "offers only the outdated TLSv1" in result.summary
    assert "TLS 1.2 or newer" in result.summary
    assert "Enable TLS 1.2 or 1.3 on 127.0.0.1" in result.remediation
    assert "ActiveGate" in result.remediation and "proxy" in result.remediation


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls10_only_server_with_an_untrusted_certificate_still_names_the_protocol(root: Authority) -> None:
    """Where the default context still speaks TLS 1.0, verification fails first: the protocol is still the cause."""
    leaf = root.issue("127.0.0.1")
    try:
        with tls_server(leaf.chain_pem(), leaf.key_pem, configure=_tls10_only) as port:
            result = check_server(port, None)
    except (ssl.SSLError, ValueError):
        pytest.skip("this OpenSSL build cannot serve TLS 1.0")
    assert result.code == "tls.handshake_failed" and result.status is Status.FAIL
    assert result.details["offered_protocol"] == "TLSv1"
    assert "offers only the outdated TLSv1" in result.summary


def test_no_url_skips() -> None:
    from tests.support.factories import context

    results = run(tls, ctx=context({}))
    assert [r.code for r in results] == ["url.missing"]


def test_expired_intermediate_is_named(root: Authority, root_file: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    old = root.child("Old Intermediate CA")
    # Re-sign the intermediate with a validity that ended yesterday.
    old.cert = (
        x509.CertificateBuilder()
        .subject_name(old.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(old.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 400 * DAY)
        .not_valid_after(NOW - DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        # What a real CA carries, and what strict verification (Python 3.13+) insists on.
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(old.key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
        .sign(root.key, hashes.SHA256())
    )
    leaf = old.issue("127.0.0.1", not_before=NOW - 10 * DAY)
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, root_file)
    assert result.code == "tls.expired"
    assert "the CA certificate Old Intermediate CA in the chain" in result.summary
    assert result.details["leaf_problems"] == []
    assert dt.date.today().year >= 2025


def test_self_signed_for_another_name_is_reported_as_self_signed_with_the_mismatch_listed() -> None:
    leaf = self_signed("appliance.local")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        result = check_server(port, None)
    assert result.code == "tls.self_signed"
    assert set(result.details["leaf_problems"]) == {"hostname_mismatch", "self_signed"}


def test_the_presented_chain_is_read_from_the_wire_where_python_has_no_api(
    intermediate: Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python 3.9's ssl shows only the leaf; the recorded TLS 1.2 handshake must see the whole chain.
    from cryptography import x509

    from dtdoctor.net import tls_probe
    from dtdoctor.net.proxy import ProxyChoice

    monkeypatch.setattr(tls_probe, "HAS_CHAIN_API", False)
    leaf = intermediate.issue("127.0.0.1")
    with tls_server(leaf.chain_pem(), leaf.key_pem) as port:
        shake = tls_probe.handshake(
            "127.0.0.1", port, tls_probe.unverified_context(), tls_probe.UNVERIFIED, ProxyChoice(None, ""), 2.0
        )
    assert shake.ok and shake.chain_complete and shake.version == "TLSv1.2"
    subjects = [x509.load_der_x509_certificate(der).subject.rfc4514_string() for der in shake.chain]
    assert len(subjects) == 2 and "Intermediate" in subjects[1]


# Classify as a table: a reset during the handshake, and what the same handshake without the server name saw.
@pytest.mark.parametrize(
    ("nameless", "words"),
    [
        (
            tls.tls_probe.Handshake("unverified", tls.tls_probe.VERIFY_FAILED, 4),
            "completes a handshake when the ClientHello carries no server name: a firewall or filter that "
            "inspects the server name (SNI) resets the connection",
        ),
        (
            tls.tls_probe.Handshake("unverified", tls.tls_probe.FAILED, 4, reason="ConnectionResetError"),
            "a ClientHello without the server name was not answered either (ConnectionResetError): most likely a "
            "firewall or filter that inspects TLS resets it",
        ),
    ],
)
def test_a_reset_after_the_client_hello_names_the_filter_and_its_evidence(nameless, words) -> None:
    from dtdoctor.config import parse_url
    from dtdoctor.core.codes import word
    from dtdoctor.net.proxy import ProxyChoice

    endpoint = parse_url("https://blocked.example.test/e/abc12345").endpoint
    assert endpoint is not None
    reset = tls.tls_probe.Handshake(
        "system", tls.tls_probe.FAILED, 3, reason="ConnectionResetError",
        message="ConnectionResetError: Connection reset by peer",
    )
    found = tls.tls_probe.Assessment(endpoint, ProxyChoice(None, ""), reset, nameless=nameless)
    finding = tls.judge(endpoint, found, 30, NOW)
    assert finding.code == "tls.reset_after_hello"
    summary, remediation = word(tls.CODES[finding.code], finding.summary, finding.remediation, finding.details)
    assert summary.startswith(
        "blocked.example.test:443 accepted the TCP connection, then reset it right after this host's TLS "
        "ClientHello for blocked.example.test, before the server answered; "
    )
    assert words in summary
    assert "between this host and blocked.example.test to allow TLS to blocked.example.test on port 443" in remediation
    assert finding.details["tcp_connected"] is True and finding.details["reset_after"] == "ClientHello"
