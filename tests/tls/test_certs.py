"""Certificate facts and host name matching, read from certificates a real CA library issued."""

from __future__ import annotations

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from dtdoctor.net.certs import CertFacts, cert_facts, hostname_matches


def leaf_facts(ca: trustme.CA, *identities: str) -> CertFacts:
    cert = x509.load_pem_x509_certificate(ca.issue_cert(*identities).cert_chain_pems[0].bytes())
    return cert_facts(cert.public_bytes(Encoding.DER))


def test_cert_facts_of_a_leaf_and_its_root(trustme_ca: trustme.CA) -> None:
    leaf = leaf_facts(trustme_ca, "api.example.test", "192.0.2.7")
    assert leaf.dns_names == ("api.example.test",)
    assert leaf.ip_addresses == ("192.0.2.7",)
    assert not leaf.is_ca and not leaf.self_issued
    assert leaf.ca_issuers == ()
    assert leaf.not_before < leaf.not_after
    root = cert_facts(x509.load_pem_x509_certificate(trustme_ca.cert_pem.bytes()).public_bytes(Encoding.DER))
    assert root.is_ca and root.self_issued
    assert leaf.issuer == root.subject
    assert root.dns_names == () and root.ip_addresses == ()
    # trustme names its CA without a common name: the whole name stands in.
    assert root.subject_cn == root.subject


def test_cert_facts_refuses_what_is_not_a_certificate() -> None:
    with pytest.raises(ValueError):
        cert_facts(b"not a certificate")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.example.test", True),
        ("API.Example.Test.", True),
        ("other.example.test", False),
        ("x.wild.test", True),
        ("wild.test", False),
        ("a.b.wild.test", False),
        ("192.0.2.7", True),
        ("192.0.2.8", False),
        ("[2001:db8::1]", True),
        ("2001:db8::2", False),
        ("localhost", False),
    ],
)
def test_hostname_matches(trustme_ca: trustme.CA, host: str, expected: bool) -> None:
    facts = leaf_facts(trustme_ca, "api.example.test", "*.wild.test", "192.0.2.7", "2001:db8::1")
    assert hostname_matches(facts, host) is expected


def test_an_ip_host_never_matches_a_dns_name(trustme_ca: trustme.CA) -> None:
    facts = leaf_facts(trustme_ca, "192.0.2.7.example.test", "10.0.0.1")
    assert not hostname_matches(facts, "10.0.0.2")
    assert hostname_matches(facts, "10.0.0.1")


def negative_serial(der: bytes, serial: int) -> bytes:
    """``der`` with its serial number's sign bit set, as old roots in real stores carry (signature broken)."""
    encoded = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    position = der.index(b"\x02" + bytes([len(encoded)]) + encoded) + 2
    return der[:position] + bytes([der[position] | 0x80]) + der[position + 1 :]


def test_a_serial_rfc_5280_forbids_is_read_without_a_warning_from_any_thread(trustme_ca: trustme.CA) -> None:
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from dtdoctor.net.certs import root_facts
    from dtdoctor.net.roots import roots_of

    leaf = trustme_ca.issue_cert("bad-serial.example")
    der = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_bytes(Encoding.DER)
    bad = negative_serial(der, x509.load_der_x509_certificate(der).serial_number)
    readers = (lambda: cert_facts(bad).subject, lambda: root_facts(bad)[0],
               lambda: next(iter(roots_of([bad]).values())).subject)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        with ThreadPoolExecutor(max_workers=6) as pool:
            subjects = [future.result() for future in [pool.submit(read) for read in readers * 4]]
        negative = x509.load_der_x509_certificate(bad).serial_number < 0  # the fixture is what it claims
    assert negative
    assert set(subjects) == {cert_facts(der).subject}
    # The "default" filter shows ResourceWarning too: a socket another test left unclosed, freed by the garbage
    # collector while the threads above run, is not this reading's warning (and is not shown by default).
    assert [str(warning.message) for warning in caught if not issubclass(warning.category, ResourceWarning)] == []
