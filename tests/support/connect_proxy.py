"""A real forward proxy on 127.0.0.1 that speaks HTTP CONNECT, for the proxy and tls tests.

Every destination host name is sent to 127.0.0.1 (so tests can use names a
proxy would resolve, which never go direct), at the destination's port.
Optional Basic authentication (407 without it), hosts the proxy's policy
refuses (403), TLS to the proxy itself (an ``https://`` proxy), and a slow
proxy: ``delays`` holds it back, in seconds, before its TLS handshake
(``"tls"``), before its answer to CONNECT (``"connect"``) and before it
relays the tunnel's first bytes (``"tunnel"``: a destination slow to answer).
"""

from __future__ import annotations

import base64
import contextlib
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Iterator, Mapping

from tests.support.listeners import serving
from tests.support.relay import pipe


@dataclass
class ProxyLog:
    """What the proxy saw: each CONNECT target and its Proxy-Authorization header (or None)."""

    connects: list[tuple[str, str | None]] = field(default_factory=list)


def _relay(client: ssl.SSLSocket, upstream: socket.socket) -> None:
    """Both directions in one thread: a TLS connection must not be read and written from two at once."""
    try:
        while True:
            ready = [client] if client.pending() else select.select([client, upstream], [], [], 3)[0]
            if not ready:
                return
            for source in ready:
                data = source.recv(65536)
                if not data:
                    return
                (upstream if source is client else client).sendall(data)
    except OSError:
        pass


@contextlib.contextmanager
def connect_proxy(
    credentials: tuple[str, str] | None = None,
    refuse: tuple[str, ...] = (),
    log: ProxyLog | None = None,
    tls: ssl.SSLContext | None = None,
    delays: Mapping[str, float] | None = None,
) -> Iterator[int]:
    """Yield the port of a CONNECT proxy on 127.0.0.1 (spoken to over TLS when ``tls`` is given)."""
    seen = log if log is not None else ProxyLog()
    stop = threading.Event()

    def hold(stage: str) -> bool:
        """Wait the stage's delay; False when the proxy is being stopped meanwhile."""
        return not stop.wait((delays or {}).get(stage, 0.0))
    expected = None
    if credentials is not None:
        expected = "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()

    def handle(client: socket.socket) -> None:
        client.settimeout(3)
        try:
            if not hold("tls"):
                client.close()
                return
            if tls is not None:
                client = tls.wrap_socket(client, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(1)
                if not chunk:
                    client.close()
                    return
                head += chunk
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = [*lines[0].split(" "), "", ""][:3]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            auth = headers.get("proxy-authorization")
            seen.connects.append((target, auth))
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                client.close()
                return
            if expected is not None and auth != expected:
                client.sendall(
                    b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n'
                    b"Content-Length: 0\r\n\r\n"
                )
                client.close()
                return
            host, _, port = target.rpartition(":")
            if host.strip("[]") in refuse:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                client.close()
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=2)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                client.close()
                return
            if not hold("connect"):
                upstream.close()
                client.close()
                return
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if not hold("tunnel"):
                upstream.close()
                client.close()
                return
            if isinstance(client, ssl.SSLSocket):
                _relay(client, upstream)
                upstream.close()
                client.close()
                return
            client.settimeout(None)
            upstream.settimeout(None)
            forth = threading.Thread(target=pipe, args=(client, upstream), daemon=True)
            forth.start()
            pipe(upstream, client)
            forth.join(3)
            upstream.close()
            client.close()
        except OSError:
            client.close()

    with serving(handle, stop) as port:
        yield port
