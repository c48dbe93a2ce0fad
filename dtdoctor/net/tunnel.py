"""An HTTP ``CONNECT`` tunnel through a forward proxy, at the socket level.

The ``proxy`` check uses it to tell a proxy that cannot be reached from one
that wants credentials (407) from one that refuses the destination; the
``tls`` and ``clock`` checks open their TLS connections through it, so they
see exactly what a client behind the proxy sees. Credentials in the proxy
URL are sent as ``Proxy-Authorization: Basic`` and never shown.

An ``https://`` proxy URL means TLS to the proxy itself, with CONNECT inside
it. Python's ``ssl`` cannot layer one ``SSLSocket`` on another, so such a
tunnel is handed out as one end of a socket pair, relayed to the proxy's TLS
stream by a thread: callers wrap it in TLS as they would a plain tunnel. The
common mistake of an ``https://`` URL for a proxy that speaks plain HTTP (the
"handshake timed out" every HTTPS-proxy-capable client then reports) is
recognised and named.

Opening a tunnel has one timeout in all, as a direct TCP connect has:
resolving and connecting to the proxy, TLS with an ``https://`` proxy and the
CONNECT exchange share it, so a proxy slow at every stage costs one timeout,
not one per stage. Naming a failure (reading the proxy's error page, asking
a silent ``https://`` port whether it speaks plain HTTP) may take up to
``diagnosis_s(timeout)`` more: at most one second.
"""

from __future__ import annotations

import base64
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from dtdoctor.config import display_url, format_address, url_password
from dtdoctor.net.resolve import resolve
from dtdoctor.net.untrusted import ascii_int

if TYPE_CHECKING:
    import ssl

RESOLVE = "resolve"
CONNECT = "connect"
TIMEOUT = "timeout"
STATUS = "status"
PROTOCOL = "protocol"
UNSUPPORTED = "unsupported"
PROXY_TLS = "proxy_tls"  # the TLS handshake with an https:// proxy itself failed
NO_ANSWER = "no_answer"  # reason: the proxy took the CONNECT but said nothing in time (busy reaching the destination)
# Stages at which the proxy itself failed, before any destination mattered.
PROXY_STAGES = (RESOLVE, CONNECT, PROXY_TLS, PROTOCOL, UNSUPPORTED)

# The proxy's own certificate by OpenSSL's verify code (reason, words): X509_V_ERR_HOSTNAME_MISMATCH and
# X509_V_ERR_IP_ADDRESS_MISMATCH, X509_V_ERR_CERT_HAS_EXPIRED and X509_V_ERR_CERT_NOT_YET_VALID; any other code
# is about its issuer or its chain.
_NAME_WORDS = ("name", "is not for the name {host}")
_PROXY_CERT_FAULTS = {
    62: _NAME_WORDS, 64: _NAME_WORDS, 10: ("expired", "has expired"), 9: ("not_yet_valid", "is not valid yet"),
}
# What a web server says when plain HTTP reaches its TLS port (nginx: "The plain HTTP request was sent to
# HTTPS port"; Apache: "speaking plain HTTP to an SSL-enabled server port").
_TLS_PORT_WORDS = (b"https port", b"ssl-enabled", b"tls-enabled", b"ssl port", b"tls port")

_MAX_HEADER_BYTES = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ProxyAddress:
    """A parsed proxy URL. ``credentials`` is secret and never shown."""

    scheme: str
    host: str
    port: int
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    display: str = ""

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)


class TunnelError(Exception):
    """The tunnel could not be opened; ``stage`` says where it broke.

    ``said`` is what the proxy told about its own failure, when it answered
    with an error status: the headers that carry a cause (``X-Squid-Error``,
    ``Proxy-Status`` of RFC 9209, ``Proxy-Authenticate``, ``Via``,
    ``Server``) and the error page's title. ``note`` qualifies a timeout:
    how much of the tunnel's one timeout reaching the proxy had used up.
    """

    def __init__(
        self, stage: str, message: str, status: int | None = None, reason: str = "",
        said: dict[str, str] | None = None, credentials_sent: bool = False, note: str = "",
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.status = status
        self.reason = reason
        self.said = said or {}
        self.credentials_sent = credentials_sent
        self.note = note


def parse_proxy(url: str) -> ProxyAddress:
    """Parse a proxy URL (``http://[user:pass@]host[:port]``); raises ``TunnelError`` when unusable."""
    text = url if "://" in url else "http://" + url
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise TunnelError(UNSUPPORTED, f"cannot parse the proxy URL {display_url(text)} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise TunnelError(UNSUPPORTED, f"{scheme}:// proxies are not supported by dtdoctor (use an http:// proxy URL)")
    if not parts.hostname:
        raise TunnelError(UNSUPPORTED, f"the proxy URL {display_url(text)} has no host")
    credentials = None
    if parts.username is not None:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
    return ProxyAddress(
        scheme, parts.hostname, port or _DEFAULT_PORTS[scheme], credentials, display_url(text)
    )


def proxy_secret(url: str | None) -> str | None:
    """The password in a proxy URL, for the redactor."""
    return url_password(url)


@dataclass(frozen=True)
class Tunnel:
    """An open tunnel: the socket, now connected to the destination, and what it took."""

    sock: socket.socket
    proxy: ProxyAddress
    proxy_ip: str
    connect_ms: int
    status_line: str


def diagnosis_s(timeout: float) -> float:
    """How long naming a tunnel's failure may take beyond the tunnel's timeout."""
    return min(timeout, 1.0)


def _left(deadline: float) -> float:
    """What is left until ``deadline``, never quite nothing (a socket timeout of 0 would not block at all)."""
    return max(0.05, deadline - time.monotonic())


def connect_to_proxy(
    proxy: ProxyAddress, timeout: float, deadline: float | None = None
) -> tuple[socket.socket, str, int]:
    """TCP to the proxy itself, within ``timeout`` (or by ``deadline``): (socket, address used, ms);
    raises ``TunnelError``."""
    started = time.monotonic()
    ends = started + timeout if deadline is None else deadline
    resolution = resolve(proxy.host, _left(ends))
    if not resolution.ok:
        reason = resolution.error_message or "no addresses"
        raise TunnelError(RESOLVE, f"the proxy host {proxy.host} does not resolve: {reason}")
    last_error: OSError | None = None
    for address in resolution.addresses:
        remaining = _left(ends)
        try:
            sock = socket.create_connection((address, proxy.port), timeout=remaining)
        except socket.timeout:
            raise TunnelError(
                TIMEOUT, f"no answer from the proxy {format_address(address, proxy.port)} within {timeout:g} s"
            ) from None
        except OSError as exc:
            last_error = exc
            continue
        return sock, address, round((time.monotonic() - started) * 1000)
    reason = (last_error.strerror or str(last_error)) if last_error else "no address worked"
    raise TunnelError(CONNECT, f"cannot connect to the proxy {proxy.address}: {reason}")


def open_tunnel(
    proxy: ProxyAddress, host: str, port: int, timeout: float, ca_bundle: Path | None = None
) -> Tunnel:
    """Connect to the proxy and ask it for a tunnel to ``host:port``; raises ``TunnelError``.

    Open within ``timeout`` in all (a request passes what is left of its own deadline).
    ``ca_bundle`` is trusted, with the system store, for an ``https://`` proxy's own certificate.
    """
    import ssl

    started = time.monotonic()
    ends = started + timeout
    sock, proxy_ip, connect_ms = connect_to_proxy(proxy, timeout, ends)
    stream = sock
    try:
        if proxy.scheme == "https":
            stream = _tls_to_proxy(sock, proxy, timeout, ca_bundle, ends)  # owns the connection from here on
        status_line = _handshake(stream, proxy, host, port, timeout, _Clock(started, ends))
    except BaseException:
        stream.close()
        raise
    if isinstance(stream, ssl.SSLSocket):
        return Tunnel(_relayed(stream, timeout), proxy, proxy_ip, connect_ms, status_line)
    return Tunnel(sock, proxy, proxy_ip, connect_ms, status_line)


def proxy_tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """What an ``https://`` proxy's own certificate is verified against: the system store plus ``--ca-bundle``."""
    from dtdoctor.net import trust

    return trust.shared_context(trust.SYSTEM, ca_bundle)


def _tls_to_proxy(
    sock: socket.socket, proxy: ProxyAddress, timeout: float, ca_bundle: Path | None, deadline: float
) -> ssl.SSLSocket:
    import ssl

    sock.settimeout(_left(deadline))  # CPython bounds the whole handshake by it, not each read
    try:
        return proxy_tls_context(ca_bundle).wrap_socket(sock, server_hostname=proxy.host)
    except ssl.SSLCertVerificationError as exc:
        raise _certificate_error(proxy, exc) from None
    except (ssl.SSLError, socket.timeout, OSError) as exc:
        # A TLS alert comes from a TLS server: its port is right, whatever went wrong. Only silence, a
        # closed connection or bytes that are not TLS (a "wrong version number") suggest plain HTTP.
        alerted = isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or "").upper()
        if not alerted and _speaks_plain_http(proxy, max(deadline, time.monotonic() + diagnosis_s(timeout))):
            raise TunnelError(
                PROXY_TLS,
                f"the proxy URL says https://, but {proxy.address} speaks plain HTTP: use "
                f"http://{proxy.address} (TLS to the proxy itself fails: "
                f"{_tls_failure(exc, timeout)})",
                reason="plain_http",
            ) from None
        raise TunnelError(
            PROXY_TLS, f"no TLS handshake with the proxy {proxy.address}: {_tls_failure(exc, timeout)}"
        ) from None


def _certificate_error(proxy: ProxyAddress, exc: ssl.SSLCertVerificationError) -> TunnelError:
    """Why the proxy's own certificate failed verification: its name, its dates, or its issuer."""
    message = str(exc.verify_message or exc.reason or exc)
    reason, words = _PROXY_CERT_FAULTS.get(exc.verify_code, ("verify", "is not trusted"))
    return TunnelError(
        PROXY_TLS, f"the proxy {proxy.address}'s own certificate {words.format(host=proxy.host)}: {message}",
        reason=reason,
    )


def _tls_failure(exc: BaseException, timeout: float) -> str:
    import ssl

    if isinstance(exc, socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    return str(getattr(exc, "strerror", None) or exc)


def _speaks_plain_http(proxy: ProxyAddress, deadline: float) -> bool:
    """Whether the proxy answers a cleartext request like an HTTP server, by ``deadline``: then the URL's
    scheme is wrong."""
    try:
        sock, _, _ = connect_to_proxy(proxy, _left(deadline), deadline)
    except TunnelError:
        return False
    with sock:
        sock.settimeout(_left(deadline))
        try:
            sock.sendall(b"OPTIONS * HTTP/1.1\r\nHost: " + proxy.address.encode("ascii", "replace") + b"\r\n\r\n")
            head = _read_head(sock, deadline)
            if not head.startswith(b"HTTP/"):
                return False
            answer = head + _some_body(sock, min(_left(deadline), 0.5))
        except (OSError, UnicodeError):
            return False
    # A TLS web server answers plain HTTP too, with a 400 that says it wants TLS: that port speaks TLS.
    return not any(words in answer.lower() for words in _TLS_PORT_WORDS)


def _some_body(sock: socket.socket, wait: float, limit: int = 4096) -> bytes:
    """Up to ``limit`` bytes (4 KiB at most) of what follows the head, for as long as ``wait`` allows
    (the peer may keep the connection)."""
    body = b""
    deadline = time.monotonic() + wait
    limit = min(limit, 4096)
    while len(body) < limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(limit - len(body))
        except OSError:  # socket.timeout included: what came is what there is
            break
        if not chunk:
            break
        body += chunk
    return body


def _relayed(outer: ssl.SSLSocket, timeout: float) -> socket.socket:
    """A plain socket whose bytes travel through ``outer``, the TLS stream to the proxy.

    A thread copies both ways until either side closes, or nothing moved for
    a while (a caller that vanished); ``select`` plus ``pending()`` keeps it
    to one thread, since one TLS connection must not be read and written
    from two at once.
    """
    mine, theirs = socket.socketpair()
    idle_limit = max(10.0, 4 * timeout)

    def relay() -> None:
        outer.settimeout(max(timeout, 1.0))
        last_activity = time.monotonic()
        try:
            while time.monotonic() - last_activity < idle_limit:
                ready: list[socket.socket]
                if outer.pending():
                    ready = [outer]
                else:
                    ready, _, _ = select.select([outer, mine], [], [], 0.5)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (mine if source is outer else outer).sendall(data)
                    last_activity = time.monotonic()
        except (OSError, ValueError):
            return
        finally:
            for end in (mine, outer):
                try:
                    end.close()
                except OSError:
                    pass

    threading.Thread(target=relay, name="dtdoctor-proxy-tls-relay", daemon=True).start()
    return theirs


@dataclass(frozen=True)
class _Clock:
    """When the tunnel's opening started and when its time is up."""

    started: float
    deadline: float


def _handshake(sock: socket.socket, proxy: ProxyAddress, host: str, port: int, timeout: float, clock: _Clock) -> str:
    authority = format_address(host, port)
    head = _exchange(sock, proxy, _connect_request(proxy, authority), timeout, clock)
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1").strip()
    status, reason = _status(proxy, status_line)
    if not 200 <= status < 300:
        message = f"the proxy answered CONNECT {authority} with {status} {reason}".strip()
        said = _what_the_proxy_said(sock, head, diagnosis_s(timeout))
        raise TunnelError(STATUS, message, status, reason, said, proxy.credentials is not None)
    return status_line


def _connect_request(proxy: ProxyAddress, authority: str) -> bytes:
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", "User-Agent: dtdoctor"]
    if proxy.credentials is not None:
        user, password = proxy.credentials
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {encoded}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _exchange(sock: socket.socket, proxy: ProxyAddress, request: bytes, timeout: float, clock: _Clock) -> bytes:
    """Send CONNECT and read the head of the answer, by the tunnel's deadline."""
    asked = time.monotonic()
    sock.settimeout(_left(clock.deadline))
    try:
        sock.sendall(request)
        return _read_head(sock, clock.deadline)
    except socket.timeout:
        note = _time_taken_before(asked, clock, timeout)
        raise TunnelError(
            TIMEOUT, f"the proxy {proxy.address} did not answer CONNECT within {timeout:g} s{note}", reason=NO_ANSWER,
            note=note,
        ) from None
    except OSError as exc:
        raise TunnelError(PROTOCOL, f"the proxy {proxy.address} broke the connection: {exc.strerror or exc}") from None


def _time_taken_before(asked: float, clock: _Clock, timeout: float) -> str:
    """Words for the part of the tunnel's one timeout that connecting (and TLS) to the proxy used up,
    when it was a noticeable part: the CONNECT then had less than the whole timeout to be answered."""
    before = asked - clock.started
    if before < 0.1 * timeout:
        return ""
    return f" (the tunnel's limit; connecting to the proxy took {before:.1f} s of it)"


def _status(proxy: ProxyAddress, status_line: str) -> tuple[int, str]:
    """The status and reason of an HTTP status line; a TunnelError when it is not one."""
    pieces = status_line.split(" ", 2)
    # An HTTP status is exactly three ASCII digits; anything else is not an HTTP proxy's answer.
    status = ascii_int(pieces[1], 3) if len(pieces) >= 2 and pieces[0].startswith("HTTP/") else None
    if status is None or len(pieces[1]) != 3:
        shown = status_line[:80] or "nothing"
        raise TunnelError(PROTOCOL, f"{proxy.address} did not answer like an HTTP proxy (got {shown!r})")
    return status, pieces[2] if len(pieces) > 2 else ""


# Headers in which a proxy says why it failed; each kept once, shortened, as untrusted text.
_TELLING_HEADERS = ("x-squid-error", "proxy-status", "proxy-authenticate", "via", "server")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _what_the_proxy_said(sock: socket.socket, head: bytes, wait: float) -> dict[str, str]:
    said: dict[str, str] = {}
    length = 4096
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        key = name.strip().lower()
        if key == "content-length":
            length = ascii_int(value.strip(), 9) or 0
        if key in _TELLING_HEADERS:
            text = " ".join(value.split())[:200]
            said[key] = f"{said[key]}, {text}" if key in said else text
    try:
        body = _some_body(sock, wait, length) if length else b""
    except OSError:
        body = b""
    title = _TITLE.search(body)
    if title:
        said["title"] = " ".join(title.group(1).decode("utf-8", "replace").split())[:160]
    return said


def _read_head(sock: socket.socket, deadline: float) -> bytes:
    """Read up to the end of the response head, byte-exact, so nothing of the tunnel is consumed.

    The whole head must arrive by ``deadline`` (raises ``socket.timeout``):
    the socket's own timeout applies per byte, which a proxy trickling its
    answer would never trip.
    """
    data = b""
    timeout = sock.gettimeout()
    while b"\r\n\r\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("the answer did not complete in time")
        sock.settimeout(remaining if timeout is None else min(timeout, remaining))
        chunk = sock.recv(1)
        if not chunk:
            if not data:
                raise OSError(0, "it closed the connection without an answer")
            break
        data += chunk
        if len(data) > _MAX_HEADER_BYTES:
            break
    sock.settimeout(timeout)
    return data
