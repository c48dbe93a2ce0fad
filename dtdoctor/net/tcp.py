"""TCP connects to every address of an endpoint at once, each classified.

All addresses are tried concurrently with non-blocking sockets, so an
endpoint with black-holed IPv4 and IPv6 addresses costs one timeout, not two.
A failed connect is classified by the ICMP error behind it where the system
tells (``net.icmp``): a firewall's rejection, a router that cannot reach the
host, a neighbour that never answered, or this host's own missing route.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from dataclasses import dataclass

from dtdoctor.net import icmp

OPEN = "open"
REFUSED = "refused"
TIMEOUT = "timeout"
UNREACHABLE = "unreachable"
REJECTED = "rejected"  # a firewall answered with an ICMP error that names a rejection
NO_NEIGHBOR = "no_neighbor"  # an on-link address nobody answers ARP / neighbour discovery for

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
    icmp: icmp.IcmpError | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"address": self.address, "outcome": self.outcome, "ms": self.elapsed_ms}
        if self.reason:
            data["reason"] = self.reason
        if self.icmp is not None:
            data["icmp"] = self.icmp.to_json()
        return data


def _failed(sock: socket.socket, address: str, port: int, number: int, elapsed_ms: int) -> Attempt:
    """A failed connect, classified by the ICMP error behind it when the system queued one."""
    error = icmp.queued_error(sock)
    outcome = classify_errno(number)
    if error is not None:
        if error.sender == icmp.own_address(sock):
            outcome = NO_NEIGHBOR  # this host told itself: the neighbour lookup failed
        elif error.kind in (icmp.PROHIBITED, icmp.PORT_UNREACHABLE):
            outcome = REJECTED
        else:
            outcome = UNREACHABLE
    return Attempt(address, port, outcome, elapsed_ms, _describe(number), error)


def _timed_out(address: str, port: int, timeout: float, elapsed_ms: int) -> Attempt:
    # A connect to an on-link address whose ARP went unanswered ends in EHOSTUNREACH only after the
    # kernel's retries (about 3 s): the ARP table tells the same at any timeout.
    if ":" not in address and icmp.arp_unanswered(address):
        return Attempt(address, port, NO_NEIGHBOR, elapsed_ms, "no ARP reply")
    return Attempt(address, port, TIMEOUT, elapsed_ms, f"no answer within {timeout:g} s")


def classify_errno(number: int) -> str:
    if number in _REFUSED_ERRNOS:
        return REFUSED
    if number in _TIMEOUT_ERRNOS:
        return TIMEOUT
    return UNREACHABLE


def connect_all(addresses: list[str], port: int, timeout: float) -> list[Attempt]:
    """Try a TCP connect to every address concurrently; close what connects."""
    return connect_pairs([(address, port) for address in addresses], timeout)


def connect_pairs(pairs: list[tuple[str, int]], timeout: float) -> list[Attempt]:
    """Try a TCP connect to every (address, port) concurrently: one timeout for all of them."""
    started = time.monotonic()
    selector = selectors.DefaultSelector()
    attempts: dict[tuple[str, int], Attempt] = {}
    sockets: dict[tuple[str, int], socket.socket] = {}

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        for address, port in pairs:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as exc:
                attempts[(address, port)] = Attempt(address, port, UNREACHABLE, elapsed(), _describe(exc.errno))
                continue
            sock.setblocking(False)
            icmp.enable(sock)
            number = sock.connect_ex((address, port))
            if number in (0, errno.EISCONN):
                attempts[(address, port)] = Attempt(address, port, OPEN, elapsed())
                sock.close()
            elif number in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                sockets[(address, port)] = sock
                selector.register(sock, selectors.EVENT_WRITE, (address, port))
            else:
                attempts[(address, port)] = _failed(sock, address, port, number, elapsed())
                sock.close()
        deadline = started + timeout
        while sockets:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                sock = sockets.pop(key.data)
                selector.unregister(sock)
                number = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                address, port = key.data
                if number == 0:
                    attempts[key.data] = Attempt(address, port, OPEN, elapsed())
                else:
                    attempts[key.data] = _failed(sock, address, port, number, elapsed())
                sock.close()
        for (address, port), sock in sockets.items():
            attempts[(address, port)] = _timed_out(address, port, timeout, elapsed())
            sock.close()
    finally:
        selector.close()
    return [attempts[pair] for pair in pairs]


def _describe(number: int | None) -> str:
    if number is None:
        return "unknown error"
    return f"{errno.errorcode.get(number, str(number))} ({os.strerror(number)})"
