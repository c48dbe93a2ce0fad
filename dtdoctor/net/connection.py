"""An open connection to one endpoint that the next request there may take over, once.

The ``tls`` check's verified handshake is a complete HTTPS connection: the
``api`` request, which waits for that result anyway, is sent over it instead
of a new connection and handshake, and the ``token`` lookup, which waits for
``api``, over the same connection when the server keeps it open. The
connection travels as the fact of the result that opened it (along the
dependency graph, never through a side channel) and is handed out to one
taker only; whoever finds it taken, closed or made for another route or
trust store opens a connection of its own. The runner releases what nobody
took when the run ends, so a long-running ``serve`` keeps no sockets.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class HeldConnection:
    """A connected socket to ``origin`` (scheme, host, port) over ``route``, verified with ``trust``.

    ``route`` is the proxy URL (None: direct) and ``trust`` the SSL context
    that verified the server (None for plain HTTP): a request takes the
    connection only when both are what it would have used itself.
    """

    def __init__(
        self, sock: socket.socket, origin: tuple[str, str, int], route: str | None, trust: object | None
    ) -> None:
        self._sock: socket.socket | None = sock
        self._lock = threading.Lock()
        self.origin = origin
        self.route = route
        self.trust = trust
        self.taken = False  # whether a request took it over

    def take(self, origin: tuple[str, str, int], route: str | None, trust: object | None) -> socket.socket | None:
        """The socket, to the first caller whose request it fits; None once taken or released."""
        if (origin, route) != (self.origin, self.route) or trust is not self.trust:
            return None
        with self._lock:
            sock, self._sock = self._sock, None
            self.taken = self.taken or sock is not None
        return sock

    @property
    def available(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        """Close the socket unless someone took it (taken sockets are the taker's to close)."""
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

