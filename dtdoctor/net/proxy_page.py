"""What an inspecting proxy's own error page says about the real server's certificate.

Classify only; the words belong to the code that uses the reason
(``api.origin_tls_rejected_by_proxy``). squid's ``ERR_SECURE_CONNECT_FAIL``
page (``errors/templates/ERR_SECURE_CONNECT_FAIL``) shows the OpenSSL or squid
error name in ``<pre>%E (TLS code: %x)</pre>`` and one line of detail in
``<p>%D</p>``, whose text comes from squid's ``error-details.txt`` (for example
``Self-signed SSL Certificate: /CN=...``). The page is untrusted text: only
short, printable matches are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
SELF_SIGNED = "self_signed"
UNTRUSTED_ROOT = "untrusted_root"  # the chain ends in a self-signed root the proxy does not trust
UNKNOWN_ISSUER = "unknown_issuer"
NAME_MISMATCH = "name_mismatch"
REVOKED = "revoked"
HANDSHAKE = "handshake"  # no certificate verdict: the TLS handshake failed with another OpenSSL error
# No certificate error named, and OpenSSL's only complaint (if any) is "certificate verify failed": squid 5 reports
# a certificate whose issuer it cannot find (a private CA, a missing intermediate) so (its PR 898).
UNVERIFIED = "unverified"
UNKNOWN = "unknown"

# OpenSSL's X509_V_ERR_* names and squid's own SQUID_* additions (error-details.txt of squid 5).
_REASONS: Mapping[str, str] = {
    "X509_V_ERR_CERT_HAS_EXPIRED": EXPIRED,
    "X509_V_ERR_CERT_NOT_YET_VALID": NOT_YET_VALID,
    "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT": SELF_SIGNED,
    "X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN": UNTRUSTED_ROOT,
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT": UNKNOWN_ISSUER,
    "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY": UNKNOWN_ISSUER,
    "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE": UNKNOWN_ISSUER,
    "X509_V_ERR_CERT_UNTRUSTED": UNKNOWN_ISSUER,
    "SQUID_X509_V_ERR_DOMAIN_MISMATCH": NAME_MISMATCH,
    "X509_V_ERR_HOSTNAME_MISMATCH": NAME_MISMATCH,
    "X509_V_ERR_IP_ADDRESS_MISMATCH": NAME_MISMATCH,
    "X509_V_ERR_CERT_REVOKED": REVOKED,
    "SQUID_TLS_ERR_CONNECT": HANDSHAKE,
}

# "X509_V_ERR_CERT_HAS_EXPIRED+broken_cert", "SQUID_TLS_ERR_CONNECT+TLS_IO_ERR=1"
# The OpenSSL error squid appends to SQUID_TLS_ERR_CONNECT, in hex: the SSL library's (20) reason 134, "certificate
# verify failed", is 0A000086 from OpenSSL 3 (library << 23 | reason) and 1416F086 or 14090086 from OpenSSL 1.x
# (library << 24 | function << 12 | reason; openssl/err.h of each).
_LIB_ERROR = re.compile(r"\+TLS_LIB_ERR=([0-9A-F]{1,8})\b")
_IO_ERROR_SSL = re.compile(r"\+TLS_IO_ERR=1\b")  # SSL_get_error()'s SSL_ERROR_SSL (openssl/ssl.h)
_SSL_LIBRARY = 20
_VERIFY_FAILED = 134
_TLS_CODE = re.compile(r"\(TLS code: ([A-Za-z0-9_+=]{1,80})\)")
# The one line of detail right after the <pre> block (printable ASCII without '<' and '>').
_DETAIL = re.compile(r"</pre>\s*<p>([ -;=?-~]{1,160})</p>")


@dataclass(frozen=True)
class OriginTls:
    """The proxy's words about the real server's TLS: squid's TLS code, its detail line, and the reason."""

    error: str | None
    detail: str | None
    reason: str


def read(page: str) -> OriginTls:
    """The TLS code and detail of an inspecting proxy's error page, and what they mean."""
    code = _TLS_CODE.search(page)
    detail = _DETAIL.search(page)
    error = code.group(1) if code else None
    reason = _reason(error) if error else UNKNOWN
    line = " ".join(detail.group(1).split()) if detail else None
    # squid's placeholders when it lost the details (its PR 2373): "[Unknown Error Code]", "[No Error Detail]".
    return OriginTls(error, None if line == "[No Error Detail]" else line, reason)


def _reason(error: str) -> str:
    """The reason of squid's TLS code: its name (squid appends "+broken_cert" and other flags to it), and for a
    failed handshake without a certificate error, the OpenSSL error it appends."""
    reason = _REASONS.get(error.split("+", 1)[0], UNKNOWN)
    if reason != HANDSHAKE:
        return reason
    library = _LIB_ERROR.search(error)
    if library is None:
        # No library error, yet OpenSSL's SSL_get_error said SSL_ERROR_SSL (1): squid lost the verify reason
        # (squid PR 898). Another value (5, SSL_ERROR_SYSCALL: the origin reset or closed mid-handshake) is no
        # certificate error.
        return UNVERIFIED if _IO_ERROR_SSL.search(error) else HANDSHAKE
    return UNVERIFIED if _verify_failed(int(library.group(1), 16)) else HANDSHAKE


def _verify_failed(packed: int) -> bool:
    """Whether an OpenSSL error code (3.x or 1.x packing) is the SSL library's "certificate verify failed"."""
    openssl3 = (packed >> 23) & 0xFF == _SSL_LIBRARY and packed & 0x7FFFFF == _VERIFY_FAILED
    openssl1 = (packed >> 24) & 0xFF == _SSL_LIBRARY and packed & 0xFFF == _VERIFY_FAILED
    return openssl3 or openssl1
