"""An incomplete chain, proven by downloading the missing intermediate from the AIA URL, as browsers do.

The TLS servers send only their leaf; the intermediate is served by a real
HTTP server on 127.0.0.1 in the ways CAs serve it (DER, PEM, a PKCS#7
bundle) and in ways they should not (HTML, the wrong certificate, nothing).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from pytest_httpserver import HTTPServer

from dtdoctor.checks import tls
from dtdoctor.core.model import CheckResult, Status
from tests.support.listeners import closed_port
from tests.support.tls_servers import Authority, ServerLog, tls_server
from tests.tls.helpers import ctx_for, only, run

AIA_PATH = "/pki/intermediate.crt"


def incomplete_chain_result(
    intermediate: Authority, aia_url: str, ca_file: Path | None, log: ServerLog | None = None, **options: object
) -> CheckResult:
    leaf = intermediate.issue("127.0.0.1", aia_url=aia_url)
    with tls_server(leaf.chain_pem(with_intermediates=False), leaf.key_pem, log=log) as port:
        ctx = ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(ca_file) if ca_file else None, **options)
        return only(run(tls, ctx=ctx), "tls", f"127.0.0.1:{port}")


def serve_issuer(httpserver: HTTPServer, body: bytes, content_type: str = "application/pkix-cert") -> str:
    httpserver.expect_request(AIA_PATH).respond_with_data(body, content_type=content_type)
    return httpserver.url_for(AIA_PATH)


def test_the_downloaded_intermediate_proves_the_chain_incomplete(
    httpserver: HTTPServer, intermediate: Authority, root_file: Path
) -> None:
    url = serve_issuer(httpserver, intermediate.cert.public_bytes(Encoding.DER))
    log = ServerLog()
    result = incomplete_chain_result(intermediate, url, root_file, log=log)
    assert result.code == "tls.incomplete_chain" and result.status is Status.FAIL
    download = result.details["issuer_download"]
    assert download["url"] == url
    assert download["chain_verifies"] is True
    assert "dtdoctor Test Intermediate CA" in download["issuer"]["subject"]
    assert f"downloaded from {url} the chain verifies" in result.summary
    assert "full certificate chain" in result.remediation
    # The proof is one more real handshake, verified with the intermediate added.
    assert log.handshakes == 4  # system store, certifi, unverified, and the one with the downloaded issuer
    assert len(httpserver.log) == 1
    request = httpserver.log[0][0]
    assert "Authorization" not in request.headers  # the token goes to configured endpoints only


@pytest.mark.parametrize("encoding", ["pem", "pkcs7-der", "pkcs7-pem"])
def test_the_intermediate_is_read_in_every_format_cas_serve_it(
    encoding: str, httpserver: HTTPServer, intermediate: Authority, root: Authority, root_file: Path
) -> None:
    # A bundle may carry more than the issuer (the root too): the issuer is picked by its signature.
    certs = [root.cert, intermediate.cert]
    body = {
        "pem": intermediate.cert_pem,
        "pkcs7-der": pkcs7.serialize_certificates(certs, Encoding.DER),
        "pkcs7-pem": pkcs7.serialize_certificates(certs, Encoding.PEM),
    }[encoding]
    result = incomplete_chain_result(intermediate, serve_issuer(httpserver, body), root_file)
    assert result.details["issuer_download"]["chain_verifies"] is True, result.details["issuer_download"]


def test_an_intermediate_under_an_untrusted_root_says_both_things_are_wrong(
    httpserver: HTTPServer, intermediate: Authority
) -> None:
    """Also the proof that the downloaded intermediate is never a trust anchor (Python 3.13 would allow it)."""
    url = serve_issuer(httpserver, intermediate.cert.public_bytes(Encoding.DER))
    result = incomplete_chain_result(intermediate, url, None)  # the test root is not trusted here
    assert result.code == "tls.incomplete_chain"
    download = result.details["issuer_download"]
    assert download["chain_verifies"] is False
    assert download["verify_error"]
    assert "does not verify here" in result.summary
    assert "above it is not trusted either" in result.summary
    assert "trustme" in result.summary  # the test root's name (trustme's CA has no CN)
    assert "full certificate chain" in result.remediation and "--ca-bundle" in result.remediation


def test_a_certificate_that_did_not_issue_the_leaf_proves_nothing(
    httpserver: HTTPServer, intermediate: Authority, root: Authority, root_file: Path
) -> None:
    impostor = root.child("dtdoctor Test Intermediate CA")  # the same name, another key
    url = serve_issuer(httpserver, impostor.cert.public_bytes(Encoding.DER))
    result = incomplete_chain_result(intermediate, url, root_file)
    assert result.code == "tls.incomplete_chain"
    assert result.details["issuer_download"]["error"] == "the answer holds no certificate that issued the server's"
    assert "chain_verifies" not in result.details["issuer_download"]
    assert "downloaded" not in result.summary


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"<html><body>Sign in</body></html>", "text/html", 200, "the answer holds no certificate"),
        (b"", "application/pkix-cert", 200, "the answer holds no certificate"),
        (b"gone", "text/plain", 404, "the server answered HTTP 404"),
    ],
)
def test_an_answer_without_the_certificate_keeps_the_verdict_and_says_why(
    body: bytes,
    content_type: str,
    status: int,
    error: str,
    httpserver: HTTPServer,
    intermediate: Authority,
    root_file: Path,
) -> None:
    httpserver.expect_request(AIA_PATH).respond_with_data(body, status=status, content_type=content_type)
    result = incomplete_chain_result(intermediate, httpserver.url_for(AIA_PATH), root_file)
    assert result.code == "tls.incomplete_chain"
    assert result.details["issuer_download"]["error"] == error


def test_an_unreachable_aia_url_keeps_the_verdict(intermediate: Authority, root_file: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/intermediate.crt"
    result = incomplete_chain_result(intermediate, url, root_file)
    assert result.code == "tls.incomplete_chain"
    assert "refused" in result.details["issuer_download"]["error"]
    assert result.details["missing_issuer_url"] == url


def test_a_stalling_aia_server_costs_a_bounded_wait(intermediate: Authority, root_file: Path) -> None:
    from tests.support.tls_servers import silent_port

    with silent_port() as port:
        result = incomplete_chain_result(intermediate, f"http://127.0.0.1:{port}/i.crt", root_file, timeout=0.3)
    assert result.code == "tls.incomplete_chain"
    assert result.details["issuer_download"]["error"]


def test_only_http_urls_are_fetched(intermediate: Authority, root_file: Path) -> None:
    url = "ldap://ldap.example.com/cn=Intermediate?cACertificate"
    result = incomplete_chain_result(intermediate, url, root_file)
    assert result.details["issuer_download"]["error"] == "only http and https URLs are fetched, not ldap:"


def test_a_name_that_does_not_resolve_is_reported_as_such(intermediate: Authority, root_file: Path) -> None:
    result = incomplete_chain_result(intermediate, "http://pki.invalid/intermediate.crt", root_file)
    assert result.details["issuer_download"]["error"].startswith("cannot resolve pki.invalid: ")


def test_a_link_local_aia_url_is_never_fetched(intermediate: Authority, root_file: Path) -> None:
    """A cloud metadata service answers on 169.254.169.254: a certificate must not aim a request there."""
    result = incomplete_chain_result(intermediate, "http://169.254.169.254/latest/meta-data/", root_file)
    assert result.details["issuer_download"]["error"] == (
        "not fetched: 169.254.169.254 is a link-local address (169.254.169.254)"
    )


def test_the_http_url_is_used_when_an_ldap_url_comes_first(
    intermediate: Authority, root_file: Path, httpserver: HTTPServer
) -> None:
    """Microsoft AD CS lists ldap:// before http:// in the AIA extension."""
    url = serve_issuer(httpserver, intermediate.cert.public_bytes(Encoding.DER))
    leaf = intermediate.issue("127.0.0.1", aia_url=["ldap:///CN=Issuing%20CA,CN=AIA?cACertificate", url])
    with tls_server(leaf.chain_pem(with_intermediates=False), leaf.key_pem) as port:
        ctx = ctx_for(f"https://127.0.0.1:{port}", ca_bundle=str(root_file))
        result = only(run(tls, ctx=ctx), "tls", f"127.0.0.1:{port}")
    assert result.details["missing_issuer_url"] == url
    assert result.details["issuer_download"]["chain_verifies"] is True


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http:///intermediate.crt", "the URL names no host"),
        ("http://[::1/intermediate.crt", "the URL cannot be parsed"),
    ],
)
def test_a_url_without_a_usable_host_is_never_fetched(url: str, error: str) -> None:
    from dtdoctor.net.aia import download_issuer

    download = download_issuer(ctx_for("https://127.0.0.1:1"), url, b"")
    assert download.issuer is None and download.error == error
