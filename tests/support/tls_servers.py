"""Certificates and real TLS servers on 127.0.0.1 for the tls, truststore and clock tests.

``Authority`` builds CAs and leaf certificates with ``cryptography`` (any
validity dates, AIA URLs, intermediates); it can also wrap a ``trustme.CA``.
``tls_server`` serves a chain on a loopback port in a thread and answers one
small HTTP request per connection, with a ``Date`` header that can be put off
by a chosen offset (for clock tests) and ``/api/v1/time`` in epoch ms.
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Iterator

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from tests.support.listeners import serving

UTC = datetime.timezone.utc


def _now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Leaf:
    """A server certificate with its key and the CA certificates a server would send after it."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    intermediates: list[x509.Certificate] = field(default_factory=list)

    @property
    def cert_pem(self) -> bytes:
        return _pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)

    def chain_pem(self, with_intermediates: bool = True) -> bytes:
        extra = b"".join(_pem(cert) for cert in self.intermediates) if with_intermediates else b""
        return self.cert_pem + extra


class Authority:
    """A CA that issues certificates with any dates, names and extensions."""

    def __init__(
        self,
        common_name: str = "dtdoctor Test Root CA",
        parent: Authority | None = None,
        organization: str = "dtdoctor tests",
        key: ec.EllipticCurvePrivateKey | None = None,
        cert: x509.Certificate | None = None,
    ) -> None:
        self.parent = parent
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        if cert is not None:
            self.cert = cert
            return
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        issuer_name = parent.cert.subject if parent else name
        signing_key = parent.key if parent else self.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=30))
            .not_valid_after(_now() + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
        )
        if parent is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()), critical=False
            )
        self.cert = builder.sign(signing_key, hashes.SHA256())

    @classmethod
    def from_trustme(cls, ca: object) -> Authority:
        key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)  # type: ignore[attr-defined]
        cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())  # type: ignore[attr-defined]
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(key=key, cert=cert)

    @property
    def cert_pem(self) -> bytes:
        return _pem(self.cert)

    def chain_above(self) -> list[x509.Certificate]:
        """This CA and its parents up to (not including) the root, for a server's chain."""
        chain: list[x509.Certificate] = []
        node: Authority | None = self
        while node is not None and node.parent is not None:
            chain.append(node.cert)
            node = node.parent
        return chain

    def child(self, common_name: str) -> Authority:
        return Authority(common_name, parent=self)

    def issue(
        self,
        *names: str,
        not_before: datetime.datetime | None = None,
        not_after: datetime.datetime | None = None,
        aia_url: str | list[str] | None = None,
        common_name: str | None = None,
    ) -> Leaf:
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or _now() - datetime.timedelta(days=1))
            .not_valid_after(not_after or _now() + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if aia_url:
            urls = [aia_url] if isinstance(aia_url, str) else aia_url
            access = [
                x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url))
                for url in urls
            ]
            builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        return Leaf(builder.sign(self.key, hashes.SHA256()), key, self.chain_above())

    def write_pem(self, folder: Path, name: str = "ca.pem") -> Path:
        path = folder / name
        path.write_bytes(self.cert_pem)
        return path


def self_signed(name: str, days: int = 90) -> Leaf:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=1))
        .not_valid_after(_now() + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Leaf(cert, key)


# --- servers -------------------------------------------------------------------


@dataclass
class ServerLog:
    """What the server saw: each request's head, for assertions (e.g. the Authorization header)."""

    requests: list[bytes] = field(default_factory=list)
    #: ClientHellos received. Counted when the server reads the hello, not when its
    #: side of the handshake ends: a client that closes right after its Finished
    #: can make the server's TLS 1.3 session-ticket write fail.
    handshakes: int = 0


def http_answer(
    request: bytes, clock_offset_s: float = 0.0, time_api: bool = False, status: int = 200
) -> bytes:
    """A small HTTP answer with a Date header off by ``clock_offset_s``."""
    server_now = _now() + datetime.timedelta(seconds=clock_offset_s)
    path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
    if time_api and path.endswith(b"/api/v1/time"):
        body = str(int(server_now.timestamp() * 1000)).encode()
    else:
        body = b"{}"
        status = 401 if path.endswith(b"/api/v1/time") else status
    head = (
        f"HTTP/1.1 {status} X\r\nDate: {format_datetime(server_now, usegmt=True)}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def server_context(chain_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """The server side of TLS presenting ``chain_pem`` (``ssl`` loads certificates from files only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file = Path(folder) / "chain.pem"
        key_file = Path(folder) / "key.pem"
        cert_file.write_bytes(chain_pem)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(str(cert_file), str(key_file))
    return context


# A name only a test proxy resolves (to 127.0.0.1): loopback names go direct, so a run through the proxy names it.
TENANT = "tenant.dtdoctor.test"


def proxy_tls(authority: Authority, name: str = "127.0.0.1") -> ssl.SSLContext:
    """The server side of TLS to a test proxy itself, with a certificate for ``name`` from ``authority``."""
    leaf = authority.issue(name)
    return server_context(leaf.chain_pem(), leaf.key_pem)


@contextlib.contextmanager
def tls_server(
    chain_pem: bytes,
    key_pem: bytes,
    *,
    answer: Callable[[bytes], bytes] = http_answer,
    configure: Callable[[ssl.SSLContext], None] | None = None,
    log: ServerLog | None = None,
) -> Iterator[int]:
    """A TLS server on 127.0.0.1 presenting ``chain_pem``; yields its port."""
    context = server_context(chain_pem, key_pem)
    if configure is not None:
        configure(context)
    seen = log if log is not None else ServerLog()

    hello_lock = threading.Lock()

    def count_hello(_conn: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _context: ssl.SSLContext) -> None:
        with hello_lock:
            seen.handshakes += 1

    context.sni_callback = count_hello

    def handle(conn: socket.socket) -> None:
        conn.settimeout(2)
        try:
            with context.wrap_socket(conn, server_side=True) as tls_conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls_conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                seen.requests.append(data)
                tls_conn.sendall(answer(data))
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    with serving(handle) as port:
        yield port


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port that accepts TCP and then says nothing (a TLS handshake never completes)."""
    held: list[socket.socket] = []

    def hold(conn: socket.socket) -> None:
        held.append(conn)

    try:
        with serving(hold) as port:
            yield port
    finally:
        for conn in held:
            conn.close()


@contextlib.contextmanager
def plain_http_port() -> Iterator[int]:
    """A port that answers plain HTTP, not TLS (a wrong port)."""

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                time.sleep(0.05)
            except OSError:
                pass

    with serving(handle) as port:
        yield port
