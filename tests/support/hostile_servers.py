"""Loopback servers that answer badly on purpose: odd bytes, stalls, trickles.

``scripted_server`` accepts every connection on 127.0.0.1, reads the request
head, then sends a fixed answer, optionally followed by a trickle of bytes
(one every ``trickle_interval`` seconds) or by silence with the connection
held open. It stands in for broken proxies, captive portals and overloaded
servers whose answers dtdoctor must turn into findings, not exceptions.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from typing import Iterator

from tests.support.listeners import serving


def _read_head(conn: socket.socket) -> None:
    data = b""
    conn.settimeout(2)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
    # A short request body (POST) may follow; take what is already there.
    conn.settimeout(0.05)
    with contextlib.suppress(OSError):
        conn.recv(65536)


@contextlib.contextmanager
def scripted_server(
    answer: bytes = b"",
    *,
    trickle: bytes = b"",
    trickle_interval: float = 0.1,
    hold: bool = True,
    tls: ssl.SSLContext | None = None,
    read_request: bool = True,
) -> Iterator[int]:
    """Yield the port of a server that sends ``answer``, then trickles ``trickle``, then holds or closes.

    ``read_request=False`` answers at once, without waiting for an HTTP
    request head (for answers to a TLS ClientHello, which has none).
    """
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        try:
            if tls is not None:
                conn.settimeout(2)
                conn = tls.wrap_socket(conn, server_side=True)
            if read_request:
                _read_head(conn)
            conn.settimeout(2)
            if answer:
                conn.sendall(answer)
            for byte in trickle:
                if stop.wait(trickle_interval):
                    break
                conn.sendall(bytes([byte]))
            if hold:
                stop.wait(10)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    with serving(handle, stop) as port:
        yield port


def endless_header(name: bytes = b"X-Slow") -> bytes:
    """A header line that never ends: enough bytes to trickle for minutes."""
    return name + b": " + b"a" * 4000
