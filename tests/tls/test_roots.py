"""A trust store read root by root: certifi's bundle and this machine's, against the standard library and
``cryptography`` as references."""

from __future__ import annotations

import datetime
import re
import ssl
import warnings
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from dtdoctor.net import roots
from dtdoctor.net.certs import fingerprint

BEGIN, END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"


def bundles() -> list[Path]:
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    return [Path(certifi.where())] + ([system] if system.is_file() else [])


def standard_library(data: bytes) -> list[bytes]:
    """Each block as ``ssl.PEM_cert_to_DER_cert`` decodes it; a block it refuses is left out."""
    found = []
    for body in re.findall(rb"-----BEGIN CERTIFICATE-----\s+(.*?)-----END CERTIFICATE-----", data, re.DOTALL):
        try:
            found.append(ssl.PEM_cert_to_DER_cert((BEGIN + b"\n" + body + END + b"\n").decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            continue
    return found


def odd_bundles() -> list[bytes]:
    body = Path(certifi.where()).read_bytes().split(END)[0].split(BEGIN)[1]
    return [
        BEGIN + body + END + b"\r\n" + BEGIN + b" " + body + END,  # two, the second after a space
        BEGIN + b"X" + body + END,  # not a header: no line break after it
        b"text " + BEGIN + BEGIN + body + END,  # the first header is cut short by the second
        BEGIN + body.replace(b"A", "\u00e9".encode(), 1) + END,  # not ASCII
        BEGIN + b"\n!!!!\n" + END, BEGIN + b"\nQQ\n" + END,  # not base64, bad padding
        BEGIN + body,  # no end line
    ]


@pytest.mark.parametrize("data", [path.read_bytes() for path in bundles()] + odd_bundles())
def test_pem_blocks_decode_as_the_standard_library_decodes_them(data: bytes) -> None:
    assert roots.der_certificates(data) == standard_library(data)


def test_roots_carry_cryptographys_facts() -> None:
    for der in roots.der_certificates(Path(certifi.where()).read_bytes())[:20]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old roots' serials
            cert = x509.load_der_x509_certificate(der)
        root = roots.roots_of([der])[fingerprint(der)]
        assert root.sha256 == ":".join(f"{byte:02X}" for byte in cert.fingerprint(hashes.SHA256()))
        assert root.subject == cert.subject.rfc4514_string()
        # not_valid_after_utc from cryptography 42 on
        utc = datetime.timezone.utc
        not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=utc)
        assert root.not_after == not_after


def test_certifis_roots_read_after_the_system_store_are_the_same_facts() -> None:
    """Roots both hold are parsed once; what comes out does not depend on it."""
    system = roots.read_bundle(bundles()[-1])
    alone = roots.read_bundle(Path(certifi.where()))
    reused = roots.read_bundle(Path(certifi.where()), reuse=system)
    assert reused == alone
    shared = set(system) & set(reused)
    assert shared and all(reused[fingerprint] is system[fingerprint] for fingerprint in shared)  # not parsed again
    assert roots.read_bundle(Path(certifi.where()), reuse={}) == alone
