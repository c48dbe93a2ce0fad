"""TCP connects to every address of an endpoint at once, each classified.

All addresses are tried concurrently with non-blocking sockets, so an
endpoint with black-holed IPv4 and IPv6 addresses costs one timeout, not two.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from dataclasses import dataclass

OPEN = "open"
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"

_REFUSED_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET}
_UNREACHABLE_ERRNOS = {
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.EADDRNOTAVAIL,
    errno.EAFNOSUPPORT,
    errno.ENETDOWN,
    getattr(errno, "EHOSTDOWN", errno.EHOSTUNREACH),
}
_TIMEOUT_ERRNOS = {errno.ETIMEDOUT}


@dataclass(frozen=True)
class Attempt:
    """One address's connect outcome."""

    address: str
    port: int
    outcome: str  # OPEN, REFUSED, TIMEOUT or UNREACHABLE
    elapsed_ms: int
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"address": self.address, "outcome": self.outcome, "ms": self.elapsed_ms}
        if self.reason:
            data["reason"] = self.reason
        return data


def classify_errno(number: int) -> str:
    if number in _REFUSED_ERRNOS:
        return REFUSED
    if number in _TIMEOUT_ERRNOS:
        return TIMEOUT
    return UNREACHABLE


def connect_all(addresses: list[str], port: int, timeout: float) -> list[Attempt]:
    """Try a TCP connect to every address concurrently; close what connects."""
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    attempts: dict[str, Attempt] = {}
    sockets: dict[str, socket.socket] = {}

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as exc:
                attempts[address] = Attempt(address, port, UNREACHABLE, elapsed(), _describe(exc.errno))
                continue
            sock.setblocking(False)
            number = sock.connect_ex((address, port))
            if number in (0, errno.EISCONN):
                attempts[address] = Attempt(address, port, OPEN, elapsed())
                sock.close()
            elif number in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                sockets[address] = sock
                selector.register(sock, selectors.EVENT_WRITE, address)
            else:
                attempts[address] = Attempt(address, port, classify_errno(number), elapsed(), _describe(number))
                sock.close()
        deadline = started + timeout
        while sockets:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                address = key.data
                sock = sockets.pop(address)
                selector.unregister(sock)
                number = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if number == 0:
                    attempts[address] = Attempt(address, port, OPEN, elapsed())
                else:
                    attempts[address] = Attempt(address, port, classify_errno(number), elapsed(), _describe(number))
                sock.close()
        for address, sock in sockets.items():
            attempts[address] = Attempt(address, port, TIMEOUT, elapsed(), f"no answer within {timeout:g} s")
            sock.close()
    finally:
        selector.close()
    return [attempts[address] for address in addresses]


def _describe(number: int | None) -> str:
    if number is None:
        return "unknown error"
    return f"{errno.errorcode.get(number, str(number))} ({os.strerror(number)})"
