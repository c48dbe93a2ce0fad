"""TLS handshakes against one endpoint, direct or through a proxy tunnel.

One ``Handshake`` records what a single handshake with a given trust store
saw: the protocol and cipher, the certificates the server presented (also
when verification failed: a second, unverified handshake reads them), and
the OpenSSL verify code or reason when it failed. ``assess`` runs the
handshakes the ``tls`` and ``truststore`` checks need once per endpoint and
run (system store, certifi, and the unverified one on failure).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtdoctor.config import Endpoint, format_address
from dtdoctor.core.background import Background
from dtdoctor.net import quiet, trust
from dtdoctor.net.connection import HeldConnection
from dtdoctor.net.proxy import ProxyChoice
from dtdoctor.net.resolve import resolve
from dtdoctor.net.tunnel import TunnelError, open_tunnel, parse_proxy

if TYPE_CHECKING:
    import ssl

OK = "ok"
VERIFY_FAILED = "verify_failed"
TIMEOUT = "timeout"
FAILED = "failed"  # the handshake broke: protocol, cipher, reset
CONNECT_FAILED = "connect_failed"  # no TCP connection at all
TUNNEL_FAILED = "tunnel_failed"  # the proxy refused or broke the tunnel

UNVERIFIED = "unverified"
# A segment size every path carries (IPv4's minimum MTU of 576 less headers, rounded down).
SMALL_MSS = 500


@dataclass(frozen=True)
class Handshake:
    """What one handshake saw.

    Attributes:
        outcome: OK, VERIFY_FAILED, TIMEOUT, FAILED, CONNECT_FAILED or TUNNEL_FAILED.
        chain: the DER certificates as the server presented them, leaf first
            (on Python < 3.10 only the leaf).
        chain_complete: whether ``chain`` is the whole presented chain or only the leaf.
        verify_code / verify_message: OpenSSL's verdict when verification failed.
        reason: OpenSSL's reason (``TLSV1_ALERT_PROTOCOL_VERSION`` ...) or the socket error.
        tunnel_error: the ``TunnelError`` when the proxy broke the tunnel.
    """

    store: str
    outcome: str
    elapsed_ms: int = 0
    version: str = ""
    cipher: str = ""
    chain: tuple[bytes, ...] = field(default=(), repr=False)
    chain_complete: bool = False
    verify_code: int | None = None
    verify_message: str = ""
    reason: str = ""
    message: str = ""
    tunnel_error: TunnelError | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == OK


class ConnectError(Exception):
    """No TCP connection to the endpoint itself (direct route)."""


def unverified_context() -> ssl.SSLContext:
    """A context that accepts any certificate: only used to read what the server presents."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# Python 3.10+ says so when a context is allowed TLS 1.0: deliberately here, to name an outdated server.
_TLS1_WARNING = r"ssl\.TLSVersion\.TLSv1 is deprecated"


def legacy_context() -> ssl.SSLContext:
    """An unverified context that also speaks TLS 1.0/1.1, to name a server that offers nothing newer.

    Its deprecation warning is ignored for the whole process (``net/quiet.py``: it is made in a probe's
    thread).
    """
    import ssl

    context = unverified_context()
    quiet.ignore(_TLS1_WARNING, DeprecationWarning)
    try:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    return context


def open_stream(host: str, port: int, route: ProxyChoice, timeout: float, mss: int | None = None) -> socket.socket:
    """A TCP stream to ``host:port``, direct or tunnelled; raises ``ConnectError`` or ``TunnelError``.

    ``mss`` (direct only) caps the segment size this host asks the server to send. A tunnel is open
    within ``timeout`` in all (``net.tunnel``).
    """
    return _without_delay(_stream(host, port, route, timeout, mss))


def _without_delay(sock: socket.socket) -> socket.socket:
    """Send small writes at once, as curl does: the request that follows a handshake is not held back
    until the server acknowledges the handshake's last flight (Nagle's algorithm against a delayed ACK)."""
    with contextlib.suppress(OSError):  # not TCP (a proxy tunnel relayed through a socket pair)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _stream(host: str, port: int, route: ProxyChoice, timeout: float, mss: int | None) -> socket.socket:
    if route.url is not None:
        tunnel = open_tunnel(parse_proxy(route.url), host, port, timeout, route.ca_bundle)
        return tunnel.sock
    resolution = resolve(host, timeout)
    if not resolution.ok:
        raise ConnectError(f"{host} does not resolve: {resolution.error_message or 'no addresses'}")
    last: OSError | None = None
    for address in resolution.addresses:
        try:
            if mss is None:
                return socket.create_connection((address, port), timeout=timeout)
            return _small_segments((address, port), timeout, mss)
        except OSError as exc:  # socket.timeout included
            last = exc
    raise ConnectError(f"cannot connect to {format_address(host, port)}: {last}")


def _small_segments(address: tuple[str, int], timeout: float, mss: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        sock.settimeout(timeout)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


# Python 3.10 and newer expose the chain the server presented; 3.9 only the leaf.
HAS_CHAIN_API = sys.version_info >= (3, 10)


def certificates_in(records: bytes) -> tuple[bytes, ...]:
    """The DER certificates of a TLS 1.2 (or older) Certificate message in raw server records.

    Up to TLS 1.2 the server's Certificate message travels in plaintext
    handshake records before ChangeCipherSpec; parsing it is how Python 3.9,
    which has no API for the presented chain, still sees the whole chain.
    """
    handshake_bytes = bytearray()
    position = 0
    while position + 5 <= len(records):
        content_type = records[position]
        length = int.from_bytes(records[position + 3 : position + 5], "big")
        if content_type == 20:  # ChangeCipherSpec: the rest is encrypted
            break
        if content_type == 22:
            handshake_bytes += records[position + 5 : position + 5 + length]
        position += 5 + length
    position = 0
    while position + 4 <= len(handshake_bytes):
        message_type = handshake_bytes[position]
        length = int.from_bytes(handshake_bytes[position + 1 : position + 4], "big")
        body = bytes(handshake_bytes[position + 4 : position + 4 + length])
        position += 4 + length
        if message_type != 11:  # Certificate
            continue
        certificates: list[bytes] = []
        cursor, end = 3, min(3 + int.from_bytes(body[:3], "big"), len(body))
        while cursor + 3 <= end:
            size = int.from_bytes(body[cursor : cursor + 3], "big")
            certificates.append(body[cursor + 3 : cursor + 3 + size])
            cursor += 3 + size
        return tuple(certificates)
    return ()


def _recorded_handshake(
    raw: socket.socket, context: ssl.SSLContext, server_name: str, timeout: float
) -> tuple[ssl.SSLObject, bytes]:
    """A handshake through memory buffers, keeping every byte the server sent."""
    import ssl

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    received = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pending = outgoing.read()
            if pending:
                raw.sendall(pending)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout("handshake timed out") from None
            raw.settimeout(remaining)
            chunk = raw.recv(65536)
            if not chunk:
                raise ssl.SSLEOFError("the server closed the connection during the handshake") from None
            received += chunk
            incoming.write(chunk)
    pending = outgoing.read()
    if pending:
        raw.sendall(pending)
    return tls, bytes(received)


def _recorded_unverified(
    host: str, port: int, context: ssl.SSLContext, route: ProxyChoice, timeout: float
) -> Handshake | None:
    """On Python 3.9: an unverified TLS 1.2 handshake that reads the whole presented chain.

    Returns None when it cannot (a TLS 1.3-only server), so the caller falls back
    to the ordinary handshake and the leaf alone.
    """
    import ssl

    started = time.monotonic()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        raw = open_stream(host, port, route, timeout)
    except (TunnelError, ConnectError):
        return None
    try:
        tls, received = _recorded_handshake(raw, context, host.strip("[]"), timeout)
        chain = certificates_in(received)
        if not chain:
            return None
        cipher = tls.cipher()
        return Handshake(
            UNVERIFIED,
            OK,
            round((time.monotonic() - started) * 1000),
            version=tls.version() or "",
            cipher=cipher[0] if cipher else "",
            chain=chain,
            chain_complete=True,
        )
    except (OSError, ssl.SSLError):
        return None
    finally:
        raw.close()


def _chain_of(tls_sock: ssl.SSLSocket) -> tuple[tuple[bytes, ...], bool]:
    """The presented chain, leaf first, and whether it is complete (not only the leaf)."""
    import ssl

    public = getattr(tls_sock, "get_unverified_chain", None)  # Python 3.13+
    if public is not None:
        return tuple(bytes(der) for der in public() or ()), True
    sslobj = getattr(tls_sock, "_sslobj", None)
    private = getattr(sslobj, "get_unverified_chain", None)  # Python 3.10-3.12
    if private is not None:
        encoding = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
        return tuple(cert.public_bytes(encoding) for cert in private() or ()), True
    leaf = tls_sock.getpeercert(binary_form=True)
    return ((leaf,) if leaf else ()), False


def handshake(
    host: str, port: int, context: ssl.SSLContext, store: str, route: ProxyChoice, timeout: float,
    mss: int | None = None, send_name: bool = True,
) -> Handshake:
    """One handshake; ``send_name=False`` (unverified only) leaves the server name out of the ClientHello."""
    if store == UNVERIFIED and not HAS_CHAIN_API and send_name:
        recorded = _recorded_unverified(host, port, context, route, timeout)
        if recorded is not None:
            return recorded
    seen, connection = kept_handshake(host, port, context, store, route, timeout, mss, send_name)
    if connection is not None:
        connection.close()
    return seen


def kept_handshake(
    host: str, port: int, context: ssl.SSLContext, store: str, route: ProxyChoice, timeout: float,
    mss: int | None = None, send_name: bool = True,
) -> tuple[Handshake, ssl.SSLSocket | None]:
    """One handshake, and the connection it opened when it succeeded: open, for a request to use."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        raw = open_stream(host, port, route, timeout, mss)
    except TunnelError as exc:
        return Handshake(store, TUNNEL_FAILED, elapsed(), message=exc.message, tunnel_error=exc), None
    except ConnectError as exc:
        return Handshake(store, CONNECT_FAILED, elapsed(), message=str(exc)), None
    try:
        raw.settimeout(timeout)
        tls_sock = context.wrap_socket(raw, server_hostname=host.strip("[]") if send_name else None)
    except BaseException as exc:
        raw.close()
        return _failed(store, exc, elapsed(), timeout), None
    chain, complete = _chain_of(tls_sock)
    cipher = tls_sock.cipher()
    seen = Handshake(
        store,
        OK,
        elapsed(),
        version=tls_sock.version() or "",
        cipher=cipher[0] if cipher else "",
        chain=chain,
        chain_complete=complete,
    )
    return seen, tls_sock


def _failed(store: str, error: BaseException, elapsed: int, timeout: float) -> Handshake:
    """What a handshake that raised ``error`` saw; anything but a socket or TLS error is raised again."""
    import ssl

    try:
        raise error
    except ssl.SSLCertVerificationError as exc:
        return Handshake(
            store,
            VERIFY_FAILED,
            elapsed,
            verify_code=exc.verify_code,
            verify_message=str(exc.verify_message or exc.reason or exc),
            reason=str(exc.reason or ""),
            message=str(exc),
        )
    except socket.timeout:
        return Handshake(store, TIMEOUT, elapsed, message=f"no TLS handshake within {timeout:g} s")
    except ssl.SSLError as exc:
        return Handshake(store, FAILED, elapsed, reason=str(exc.reason or exc.__class__.__name__), message=str(exc))
    except OSError as exc:
        name = type(exc).__name__
        return Handshake(store, FAILED, elapsed, reason=name, message=f"{name}: {exc.strerror or exc}")


@dataclass(frozen=True)
class Assessment:
    """Every handshake the checks need for one endpoint, done once per run."""

    endpoint: Endpoint
    route: ProxyChoice
    system: Handshake
    certifi: Handshake | None = None
    unverified: Handshake | None = None
    legacy: Handshake | None = None
    ca_bundle: Path | None = None
    # After a handshake timeout: the same handshake asking for small TCP segments only.
    small_segments: Handshake | None = None
    # After a reset during the handshake: the same handshake without the server name (SNI) in the ClientHello.
    nameless: Handshake | None = None
    # The verified system-store connection, open for the request that waits for this endpoint's tls result.
    connection: HeldConnection | None = field(default=None, compare=False, repr=False)

    def release(self) -> None:
        """Close the held connection if no request took it."""
        if self.connection is not None:
            self.connection.release()

    @property
    def presented(self) -> Handshake | None:
        """The handshake that holds the certificates the server presented, if any did."""
        candidates = [c for c in (self.system, self.unverified, self.legacy, self.certifi) if c is not None and c.ok]
        # Prefer a handshake that saw the whole chain (on Python 3.9 only the recorded one does).
        return next((c for c in candidates if c.chain_complete), candidates[0] if candidates else None)

    def store_verdicts(self) -> dict[str, Any]:
        verdicts: dict[str, Any] = {}
        for handshake_ in (self.system, self.certifi):
            if handshake_ is None:
                continue
            if handshake_.ok:
                verdicts[handshake_.store] = "trusted"
            elif handshake_.outcome == VERIFY_FAILED:
                verdicts[handshake_.store] = f"rejected: {handshake_.verify_message}"
            else:
                verdicts[handshake_.store] = f"no verdict: {handshake_.message}"
        return verdicts


# OpenSSL's reasons when only an outdated protocol is on offer. Where the
# default context still speaks TLS 1.0 (Python 3.9), it fails later, on the
# SHA-1/MD5 signature such a handshake needs: LEGACY_SIGALG_DISALLOWED...
_PROTOCOL_REASONS = (
    "PROTOCOL_VERSION",
    "UNSUPPORTED_PROTOCOL",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
    "LEGACY_SIGALG_DISALLOWED",
)


# The socket errors of a connection reset by the peer (or by a firewall in its name) during the handshake.
RESET_REASONS = ("ConnectionResetError", "BrokenPipeError")


def _after_failure(failed: Assessment, timeout: float) -> Assessment:
    """The one more handshake that names a failure: without the server name after a reset (a filter that
    matches the name lets it through), with old protocols after a protocol refusal."""
    host, port, route, reason = failed.endpoint.host, failed.endpoint.port, failed.route, failed.system.reason
    if reason in RESET_REASONS:
        nameless = handshake(host, port, unverified_context(), UNVERIFIED, route, timeout, send_name=False)
        return replace(failed, nameless=nameless)
    if any(protocol in reason.upper() for protocol in _PROTOCOL_REASONS):
        return replace(failed, legacy=handshake(host, port, legacy_context(), UNVERIFIED, route, timeout))
    return failed


def assess(endpoint: Endpoint, route: ProxyChoice, ca_bundle: Path | None, timeout: float) -> Assessment:
    """The system store's handshake (kept open on success), certifi's at the same time, and those a failure needs."""
    host, port = endpoint.host, endpoint.port
    # certifi's handshake in a thread of its own, so the two stores' handshakes overlap instead of adding up.
    second = Background(
        lambda: handshake(host, port, trust.shared_context(trust.CERTIFI, ca_bundle), trust.CERTIFI, route, timeout),
        "dtdoctor-handshake",
    )
    system_context = trust.shared_context(trust.SYSTEM, ca_bundle)
    system, sock = kept_handshake(host, port, system_context, trust.SYSTEM, route, timeout)
    held = None if sock is None else HeldConnection(sock, ("https", host.lower(), port), route.url, system_context)
    if system.outcome in (OK, VERIFY_FAILED):
        # A tunnel or a handshake may take one timeout each; the certifi handshake started with the system one.
        certifi = second.result() if second.wait(3 * timeout + 1) else None  # its own timeout; this guards the wait
        found = Assessment(endpoint, route, system, certifi, ca_bundle=ca_bundle, connection=held)
        return _verified_or_rejected(found, timeout)
    return _failed_before_verdict(Assessment(endpoint, route, system, ca_bundle=ca_bundle), timeout)


def _failed_before_verdict(failed: Assessment, timeout: float) -> Assessment:
    """No certificate verdict: the handshake that names why (small packets, no server name, old protocols)."""
    host, port, route, system = failed.endpoint.host, failed.endpoint.port, failed.route, failed.system
    if system.outcome == TIMEOUT and route.direct:
        # A path that drops large packets lets the handshake's small packets through, never the certificate:
        # with small segments it completes.
        small = handshake(host, port, unverified_context(), UNVERIFIED, route, timeout, mss=SMALL_MSS)
        return replace(failed, small_segments=small)
    if system.outcome == FAILED:
        return _after_failure(failed, timeout)
    return failed


def _verified_or_rejected(found: Assessment, timeout: float) -> Assessment:
    """After a certificate verdict: the unverified handshakes that read what the server presented."""
    host, port, route, system = found.endpoint.host, found.endpoint.port, found.route, found.system
    unverified = None
    legacy = None
    if not system.ok or not system.chain_complete:
        unverified = handshake(host, port, unverified_context(), UNVERIFIED, route, timeout)
        # Where the default context still accepts TLS 1.0 (Python 3.9), the verified handshake fails on the
        # certificate first, and only the unverified one on the outdated protocol: name what is offered.
        if unverified.outcome == FAILED and any(reason in unverified.reason.upper() for reason in _PROTOCOL_REASONS):
            legacy = handshake(host, port, legacy_context(), UNVERIFIED, route, timeout)
    return replace(found, unverified=unverified, legacy=legacy)
