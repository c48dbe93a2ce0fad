"""Chasing a missing intermediate through the certificate's AIA "CA Issuers" URL.

A server that sends only its own certificate works in browsers, which
download the missing issuer from the URL in the certificate's Authority
Information Access extension (RFC 5280, 4.2.2.1), and fails in curl, Python,
Java and OneAgent, which do not. Doing that download once, here, turns "looks
like an incomplete chain" into a proven one: the downloaded certificate
really issued the server's, and with it the chain verifies against this
host's store (or still does not, which is worth knowing too).

The URL comes from a certificate the server chose, so the download is
bounded like every other request (the run's timeout, a size cap, no token),
only ``http``/``https`` URLs are fetched (``ldap://`` is not), and never from
a link-local address (where cloud metadata services answer).
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dtdoctor.config import Endpoint
from dtdoctor.core.context import RunContext
from dtdoctor.net import tls_probe, trust
from dtdoctor.net.certs import load_der
from dtdoctor.net.proxy import ProxyChoice

WITH_AIA_ISSUER = "system+aia"

# The media types a CA Issuers URL serves (RFC 5280: DER, or a "certs-only" CMS/PKCS#7 bundle).
_ACCEPT = "application/pkix-cert, application/x-x509-ca-cert, application/pkcs7-mime, */*;q=0.5"


@dataclass(frozen=True)
class IssuerDownload:
    """The outcome of fetching one CA Issuers URL.

    Attributes:
        url: the URL from the certificate.
        issuer: the DER certificate that really issued the server's, when one was found.
        error: why there is none: the download failed, the body held no
            certificate, or none of them issued the server's certificate.
    """

    url: str
    issuer: bytes | None = None
    error: str = ""


def candidates_in(body: bytes) -> list[Any]:
    """The certificates in a CA Issuers answer: DER, PEM, or a PKCS#7 bundle in either encoding."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs7

    loaders = (
        lambda data: [load_der(data)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for load in loaders:
        try:
            found = list(load(body))
        except (ValueError, TypeError):
            continue
        if found:
            return found
    return []


def issuer_of(leaf_der: bytes, candidates: list[Any]) -> bytes | None:
    """The certificate among ``candidates`` whose key signed ``leaf_der``, as DER."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import Encoding

    leaf = load_der(leaf_der)
    for candidate in candidates:
        if candidate.subject != leaf.issuer:
            continue
        try:
            leaf.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return bytes(candidate.public_bytes(Encoding.DER))
    return None


def download_issuer(ctx: RunContext, url: str, leaf_der: bytes) -> IssuerDownload:
    """Fetch ``url`` (through the proxy its scheme and host call for) and pick the leaf's issuer from it."""
    from dtdoctor.net import http

    refusal = _url_refusal(ctx, url)
    if refusal:
        return IssuerDownload(url, error=refusal)
    try:
        answer = http.fetch(ctx, "GET", url, accept=_ACCEPT)
    except http.HttpFailure as failure:
        return IssuerDownload(url, error=failure.message)
    if answer.status != 200:
        return IssuerDownload(url, error=f"the server answered HTTP {answer.status}")
    if answer.truncated:
        return IssuerDownload(url, error=f"the answer is larger than {http.MAX_BODY // 1024} KiB: not a certificate")
    candidates = candidates_in(answer.body)
    issuer = issuer_of(leaf_der, candidates)
    if issuer is None:
        what = "no certificate that issued the server's" if candidates else "no certificate"
        return IssuerDownload(url, error=f"the answer holds {what}")
    return IssuerDownload(url, issuer=issuer)


def _url_refusal(ctx: RunContext, url: str) -> str:
    """Why ``url`` is not fetched at all, or "" when it may be."""
    from dtdoctor.net import http
    from dtdoctor.net.proxy import choose_proxy

    try:
        scheme, host, port = http.origin(url)
    except ValueError:
        return "the URL cannot be parsed"
    if scheme not in ("http", "https"):
        return f"only http and https URLs are fetched, not {scheme or 'this'}:"
    if not host:
        return "the URL names no host"
    if choose_proxy(scheme, host, port, ctx.settings.proxy, ctx.environ).direct:
        return _direct_refusal(host, ctx.timeout)
    return ""


def _direct_refusal(host: str, timeout: float) -> str:
    """Why a host reached directly is not fetched (unresolvable, link-local), or ""."""
    from dtdoctor.net.resolve import resolve

    # getaddrinfo has no timeout: resolve with one first, so a dead resolver costs the timeout, not minutes.
    resolution = resolve(host.strip("[]"), timeout)
    if not resolution.ok:
        return f"cannot resolve {host}: {resolution.error_message}"
    # The URL comes from a certificate nobody vouched for: never let it aim at a cloud metadata service.
    link_local = [
        address for address in resolution.addresses if ipaddress.ip_address(address.split("%", 1)[0]).is_link_local
    ]
    if link_local:
        return f"not fetched: {host} is a link-local address ({link_local[0]})"
    return ""


def context_with(issuer_der: bytes, ca_bundle: Path | None) -> ssl.SSLContext:
    """The system store (plus ``--ca-bundle``) with the downloaded issuer added, never as a trust anchor.

    Without partial-chain verification OpenSSL still has to reach a trusted
    root from the added certificate, so a handshake with this context proves
    the chain complete, not merely the issuer present. Python 3.13 turns
    partial chains on by default: they are turned off again here.
    """
    context = trust.ssl_context(trust.SYSTEM, ca_bundle)
    partial = getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", None)
    if partial is not None:
        context.verify_flags &= ~partial
    context.load_verify_locations(cadata=issuer_der)
    return context


def verify_with_issuer(
    endpoint: Endpoint, route: ProxyChoice, issuer_der: bytes, ca_bundle: Path | None, timeout: float
) -> tls_probe.Handshake:
    """One more handshake with the server, verified with the downloaded issuer added."""
    context = context_with(issuer_der, ca_bundle)
    return tls_probe.handshake(endpoint.host, endpoint.port, context, WITH_AIA_ISSUER, route, timeout)
