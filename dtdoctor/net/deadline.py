"""An overall deadline for socket work whose timeouts apply per read.

A socket timeout bounds each ``recv``, not the exchange: a server that sends
one byte every 0.1 s never trips it. ``Watchdog`` is a timer that, when the
deadline passes, shuts down every socket it watches; the read blocked on one
then returns or fails at once, and ``fired`` tells the caller that the
failure is the deadline's, so it can report a timeout rather than a broken
connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Watchdog:
    """Shuts the watched sockets down ``seconds`` after ``__enter__``, unless disarmed first."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._armed = True
        self.fired = False
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:  # connected after the deadline: end it at once
                self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self.fired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        # The plain socket's shutdown, also for an SSLSocket: it wakes the
        # reader without touching the TLS state another thread is using.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def disarm(self) -> None:
        """The work is done: nothing may be shut down from now on."""
        with self._lock:
            self._armed = False
        self._timer.cancel()

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disarm()
