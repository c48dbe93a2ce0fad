"""Facts about one X.509 certificate, read from its DER bytes.

The ``tls`` check shows these as evidence: who the certificate is for, who
issued it, when it is valid, its fingerprint and where its issuer can be
downloaded (AIA caIssuers). ``cryptography`` is imported only when a
certificate is actually parsed, to keep start-up light.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from dtdoctor.core.model import utc_timestamp
from dtdoctor.net import quiet

# Words in an issuer's name that betray a TLS-inspecting proxy or firewall.
INSPECTION_VENDORS = (
    "zscaler",
    "fortinet",
    "fortigate",
    "palo alto",
    "paloalto",
    "blue coat",
    "bluecoat",
    "symantec web",
    "netskope",
    "forcepoint",
    "websense",
    "sophos",
    "checkpoint",
    "check point",
    "cisco umbrella",
    "mcafee web gateway",
    "skyhigh",
    "barracuda",
    "squid",
    "mitmproxy",
    "kaspersky",
    "avast",
    "eset ssl filter",
    "proxy",
    "inspection",
    "decrypt",
)


@dataclass(frozen=True)
class CertFacts:
    """What one certificate says about itself.

    Attributes:
        subject / issuer: RFC 4514 names; ``subject_cn`` / ``issuer_cn`` their common names.
        dns_names / ip_addresses: the subject alternative names.
        not_before / not_after: validity, UTC.
        sha256: fingerprint of the DER bytes, colon-separated upper-case hex.
        self_issued: subject equals issuer (a root, or a self-signed server certificate).
        is_ca: basic constraints say CA.
        ca_issuers: AIA caIssuers URLs: where the issuer's certificate can be downloaded.
    """

    subject: str
    issuer: str
    subject_cn: str
    issuer_cn: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime.datetime
    not_after: datetime.datetime
    sha256: str
    serial: str
    self_issued: bool
    is_ca: bool
    ca_issuers: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return list(self.dns_names) + list(self.ip_addresses)

    def days_left(self, now: datetime.datetime) -> int:
        return int((self.not_after - now).total_seconds() // 86400)

    def expired(self, now: datetime.datetime) -> bool:
        return now > self.not_after

    def not_yet_valid(self, now: datetime.datetime) -> bool:
        return now < self.not_before

    def looks_like_inspection(self) -> str | None:
        """The vendor word in the issuer that suggests a TLS-inspecting proxy, if any."""
        issuer = self.issuer.lower()
        return next((word for word in INSPECTION_VENDORS if word in issuer), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "san": self.names,
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "sha256": self.sha256,
            "serial": self.serial,
            "self_issued": self.self_issued,
            "is_ca": self.is_ca,
            "ca_issuers": list(self.ca_issuers),
        }

    def short(self) -> dict[str, Any]:
        """The facts that identify a certificate in a chain listing."""
        return {"subject": self.subject, "issuer": self.issuer, "not_after": iso(self.not_after), "sha256": self.sha256}


def iso(moment: datetime.datetime) -> str:
    return utc_timestamp(moment)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def fingerprint(der: bytes) -> str:
    import hashlib  # only probes that read certificates need it

    return hashlib.sha256(der).digest().hex(":").upper()


@functools.lru_cache(maxsize=32)
def cert_facts(der: bytes) -> CertFacts:
    """Parse one DER certificate; raises ``ValueError`` when it is not one.

    The facts are kept for the last few certificates: the ``tls`` check reads each chain, and ``truststore``
    reads the same chains again from the ``tls`` results.
    """
    cert = load_der(der)
    dns_names, ip_addresses = _alternative_names(cert)
    return CertFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        subject_cn=_common_name(cert.subject),
        issuer_cn=_common_name(cert.issuer),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        not_before=_utc(cert, "not_valid_before"),
        not_after=_utc(cert, "not_valid_after"),
        sha256=fingerprint(der),
        serial=format(cert.serial_number, "X"),
        self_issued=cert.subject == cert.issuer,
        is_ca=_is_ca(cert),
        ca_issuers=_ca_issuers(cert),
    )


def root_facts(der: bytes) -> tuple[str, datetime.datetime]:
    """The subject and ``notAfter`` of one DER certificate, as ``cert_facts`` words them; raises ``ValueError``.

    All a trust store listing needs: a store holds hundreds of roots, and
    reading their extensions as well would only cost time.
    """
    cert = load_der(der)
    return cert.subject.rfc4514_string(), _utc(cert, "not_valid_after")


# cryptography's words for a serial number RFC 5280 forbids (older and newer releases).
_SERIAL_WARNING = r"Parsed a (negative serial number|serial number which wasn't positive)"


def load_der(der: bytes) -> Any:
    """``cryptography``'s certificate of ``der``; raises ``ValueError`` when it is not one.

    Old roots in real stores carry serial numbers RFC 5280 forbids (14 in
    Debian 12's store), and so may a server's certificate; cryptography warns
    about each, on stderr, in the middle of a report. The facts are reported
    either way, so that one warning is ignored for the whole process
    (``net/quiet.py``: probes parse certificates in several threads at once).
    """
    from cryptography import x509

    quiet.ignore(_SERIAL_WARNING)
    return x509.load_der_x509_certificate(der)


def _common_name(name: Any) -> str:
    """The name's common name, or the whole name when it has none."""
    from cryptography.x509.oid import NameOID

    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if found:
        return str(found[0].value)
    return str(name.rfc4514_string())


def _extension(cert: Any, oid: Any) -> Any:
    """The value of one extension, or None when the certificate lacks it."""
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None


def _alternative_names(cert: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The DNS names and the IP addresses of the subject alternative names."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    san = _extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if not isinstance(san, x509.SubjectAlternativeName):
        return (), ()
    dns_names = tuple(str(name) for name in san.get_values_for_type(x509.DNSName))
    ip_addresses = tuple(str(address) for address in san.get_values_for_type(x509.IPAddress))
    return dns_names, ip_addresses


def _is_ca(cert: Any) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    constraints = _extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return isinstance(constraints, x509.BasicConstraints) and constraints.ca


def _ca_issuers(cert: Any) -> tuple[str, ...]:
    """The AIA caIssuers URLs: where the issuer's certificate can be downloaded."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID

    access = _extension(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    if not isinstance(access, x509.AuthorityInformationAccess):
        return ()
    return tuple(
        description.access_location.value
        for description in access
        if description.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
    )


def _utc(cert: Any, attribute: str) -> datetime.datetime:
    """A validity bound as an aware UTC datetime (``*_utc`` exists from cryptography 42 on)."""
    aware = getattr(cert, attribute + "_utc", None)
    if isinstance(aware, datetime.datetime):
        return aware
    naive = getattr(cert, attribute)
    assert isinstance(naive, datetime.datetime)
    return naive.replace(tzinfo=datetime.timezone.utc)


def hostname_matches(facts: CertFacts, host: str) -> bool:
    """RFC 6125 matching as OpenSSL does it: one left-most wildcard label, IPs exactly."""
    host = host.lower().rstrip(".").strip("[]")
    wanted = _ip_address(host) if facts.ip_addresses or ":" in host or host.replace(".", "").isdigit() else None
    if wanted is not None:
        import ipaddress

        return any(ipaddress.ip_address(address) == wanted for address in facts.ip_addresses)
    return any(_dns_name_matches(name.lower().rstrip("."), host) for name in facts.dns_names)


def _ip_address(host: str) -> Any:
    """The host as an IP address, or None when it is a name."""
    import ipaddress

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _dns_name_matches(name: str, host: str) -> bool:
    """One DNS name of a certificate against the host: exactly, or a left-most wildcard label."""
    if name == host:
        return True
    return name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]
