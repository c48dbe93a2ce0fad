"""net.proxy_page reads squid's ERR_SECURE_CONNECT_FAIL block as squid 5.7 wrote it in the network lab.

The lab (tests/lab/test_lab_proxy.py) runs the real squid; these are the
"The system returned" blocks it sent, plus squid's placeholders for lost
details and hostile text, which must not turn into a reason.
"""

from __future__ import annotations

import pytest

from dtdoctor.net import proxy_page


def block(code: str, detail: str) -> str:
    return f"<p>The system returned:</p>\n<pre>[No Error] (TLS code: {code})</pre>\n<p>{detail}</p>\n<p>This proxy"


@pytest.mark.parametrize(
    ("code", "detail", "reason"),
    [
        ("X509_V_ERR_CERT_HAS_EXPIRED+broken_cert", "SSL Certificate expired on: Nov 27 06:42:44 2026 GMT",
         proxy_page.EXPIRED),
        ("X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT+broken_cert", "Self-signed SSL Certificate: /CN=selfsigned.lab.test",
         proxy_page.SELF_SIGNED),
        ("SQUID_X509_V_ERR_DOMAIN_MISMATCH+broken_cert", "Certificate does not match domainname: /O=trustme v1.2.1",
         proxy_page.NAME_MISMATCH),
        ("SQUID_TLS_ERR_CONNECT+TLS_IO_ERR=1", "Failed to establish a secure connection: [No Error]",
         proxy_page.UNVERIFIED),
        ("SQUID_TLS_ERR_CONNECT+TLS_LIB_ERR=A000086+TLS_IO_ERR=1",
         "Failed to establish a secure connection: error:0A000086:SSL routines::certificate verify failed",
         proxy_page.UNVERIFIED),
        ("SQUID_TLS_ERR_CONNECT+TLS_IO_ERR=5", "Failed to establish a secure connection: [No Error]",
         proxy_page.HANDSHAKE),  # SSL_ERROR_SYSCALL: the origin reset or closed the handshake, no certificate error
        ("SQUID_TLS_ERR_CONNECT+TLS_LIB_ERR=A00010B+TLS_IO_ERR=1",
         "Failed to establish a secure connection: error:0A00010B:SSL routines::wrong version number",
         proxy_page.HANDSHAKE),
        ("X509_V_ERR_SOMETHING_NEW", "Something new", proxy_page.UNKNOWN),
    ],
)
def test_the_tls_code_and_its_detail_line_are_read(code, detail, reason):
    said = proxy_page.read(block(code, detail))
    assert (said.error, said.detail, said.reason) == (code, detail, reason)


def test_squids_placeholders_for_lost_details_are_not_evidence():
    said = proxy_page.read(block("[Unknown Error Code]", "[No Error Detail]"))
    assert (said.error, said.detail, said.reason) == (None, None, proxy_page.UNKNOWN)


def test_markup_or_overlong_text_in_the_page_is_not_quoted():
    said = proxy_page.read(block("X509_V_ERR_CERT_HAS_EXPIRED", "<script>alert(1)</script>" + "x" * 500))
    assert said.reason == proxy_page.EXPIRED and said.detail is None
    assert proxy_page.read("(TLS code: " + "A" * 200 + ")").error is None


@pytest.mark.parametrize(
    ("library_error", "reason"),
    [
        ("1416F086", proxy_page.UNVERIFIED),  # OpenSSL 1.1.1: tls_process_server_certificate: certificate verify failed
        ("14090086", proxy_page.UNVERIFIED),  # OpenSSL 1.0.2: ssl3_get_server_certificate: certificate verify failed
        ("1408F10B", proxy_page.HANDSHAKE),  # OpenSSL 1.1.1: ssl3_get_record: wrong version number
        ("2000086", proxy_page.HANDSHAKE),  # another library's reason 0x86 (OpenSSL 3), not the SSL library's
    ],
)
def test_an_openssl_1_error_code_is_read_as_squid_built_against_it_writes_it(library_error, reason):
    """squid writes the OpenSSL error it appends in upper-case hex (``asHex(...).upperCase()``); an OpenSSL 1.x
    code packs library, function and reason differently from OpenSSL 3's 0A000086."""
    code = f"SQUID_TLS_ERR_CONNECT+TLS_LIB_ERR={library_error}+TLS_IO_ERR=1"
    assert proxy_page.read(block(code, "Failed to establish a secure connection")).reason == reason
