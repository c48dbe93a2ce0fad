"""Real TCP listeners on 127.0.0.1: open, closed and black-holed ports."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Callable, Iterator


@contextlib.contextmanager
def serving(handle: Callable[[socket.socket], None], stop: threading.Event | None = None) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that hands each connection to ``handle`` in its own thread.

    ``stop`` is set when the block ends, so handlers that wait can end too.
    """
    stop = stop if stop is not None else threading.Event()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(32)
    server.settimeout(0.05)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(1)
        server.close()


@contextlib.contextmanager
def open_port(banner: bytes = b"") -> Iterator[int]:
    """A port that accepts connections (and optionally sends a banner, then closes)."""

    def greet(conn: socket.socket) -> None:
        with conn:
            if banner:
                with contextlib.suppress(OSError):
                    conn.sendall(banner)

    with serving(greet) as port:
        yield port


# Bound and never listening, for as long as the tests run: a port freed at once could be taken by any
# other listener on the machine (another test run, a service starting) before the test connects to it.
_RESERVED: list[socket.socket] = []


def closed_port() -> int:
    """A port nothing listens on: connects to it are refused, and nothing else can bind it meanwhile."""
    reserved = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reserved.bind(("127.0.0.1", 0))
    _RESERVED.append(reserved)
    return int(reserved.getsockname()[1])


@contextlib.contextmanager
def blackhole_port() -> Iterator[int]:
    """A port whose connects time out.

    On Linux a listening socket whose accept queue is full drops new SYNs
    (with the default ``tcp_abort_on_overflow=0``), which is exactly what a
    dropping firewall looks like to the client.
    """
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        # Wait until a fresh connect really stalls.
        for _ in range(20):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
                fillers.append(probe)
            except socket.timeout:
                probe.close()
                break
        else:
            raise RuntimeError("could not fill the accept queue")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()
