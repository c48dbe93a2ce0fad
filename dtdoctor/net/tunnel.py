"""An HTTP ``CONNECT`` tunnel through a forward proxy, at the socket level.

The ``proxy`` check uses it to tell a proxy that cannot be reached from one
that wants credentials (407) from one that refuses the destination; the
``tls`` and ``clock`` checks open their TLS connections through it, so they
see exactly what a client behind the proxy sees. Credentials in the proxy
URL are sent as ``Proxy-Authorization: Basic`` and never shown.
"""

from __future__ import annotations

import base64
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from dtdoctor.config import display_url, format_address, url_password
from dtdoctor.net.resolve import resolve
from dtdoctor.untrusted import ascii_int

RESOLVE = "resolve"
CONNECT = "connect"
TIMEOUT = "timeout"
STATUS = "status"
PROTOCOL = "protocol"
UNSUPPORTED = "unsupported"

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
    """The tunnel could not be opened; ``stage`` says where it broke."""

    def __init__(self, stage: str, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.status = status
        self.reason = reason


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


def connect_to_proxy(proxy: ProxyAddress, timeout: float) -> tuple[socket.socket, str, int]:
    """TCP to the proxy itself: (socket, address used, ms); raises ``TunnelError``."""
    started = time.monotonic()
    resolution = resolve(proxy.host, timeout)
    if not resolution.ok:
        reason = resolution.error_message or "no addresses"
        raise TunnelError(RESOLVE, f"the proxy host {proxy.host} does not resolve: {reason}")
    last_error: OSError | None = None
    for address in resolution.addresses:
        remaining = max(0.05, timeout - (time.monotonic() - started))
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


def open_tunnel(proxy: ProxyAddress, host: str, port: int, timeout: float) -> Tunnel:
    """Connect to the proxy and ask it for a tunnel to ``host:port``; raises ``TunnelError``."""
    if proxy.scheme != "http":
        raise TunnelError(UNSUPPORTED, "https:// proxies (TLS to the proxy itself) are not supported by dtdoctor")
    sock, proxy_ip, connect_ms = connect_to_proxy(proxy, timeout)
    try:
        status_line = _handshake(sock, proxy, host, port, timeout)
    except BaseException:
        sock.close()
        raise
    return Tunnel(sock, proxy, proxy_ip, connect_ms, status_line)


def _handshake(sock: socket.socket, proxy: ProxyAddress, host: str, port: int, timeout: float) -> str:
    authority = format_address(host, port)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", "User-Agent: dtdoctor"]
    if proxy.credentials is not None:
        user, password = proxy.credentials
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {encoded}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    sock.settimeout(timeout)
    try:
        sock.sendall(request)
        head = _read_head(sock, time.monotonic() + timeout)
    except socket.timeout:
        raise TunnelError(TIMEOUT, f"the proxy {proxy.address} did not answer CONNECT within {timeout:g} s") from None
    except OSError as exc:
        raise TunnelError(PROTOCOL, f"the proxy {proxy.address} broke the connection: {exc.strerror or exc}") from None
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1").strip()
    pieces = status_line.split(" ", 2)
    # An HTTP status is exactly three ASCII digits; anything else is not an HTTP proxy's answer.
    status = ascii_int(pieces[1], 3) if len(pieces) >= 2 and pieces[0].startswith("HTTP/") else None
    if status is None or len(pieces[1]) != 3:
        shown = status_line[:80] or "nothing"
        raise TunnelError(PROTOCOL, f"{proxy.address} did not answer like an HTTP proxy (got {shown!r})")
    reason = pieces[2] if len(pieces) > 2 else ""
    if not 200 <= status < 300:
        message = f"the proxy answered CONNECT {authority} with {status} {reason}".strip()
        raise TunnelError(STATUS, message, status, reason)
    return status_line


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
