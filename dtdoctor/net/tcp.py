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


def _timed_out(address: str, port: int, timeout: float, elapsed_ms: int, unanswered: frozenset[str]) -> Attempt:
    # A connect to an on-link address whose ARP went unanswered ends in EHOSTUNREACH only after the
    # kernel's retries (about 3 s): the ARP table tells the same at any timeout.
    if address in unanswered:
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
    race = _Race()
    try:
        for address, port in pairs:
            race.start(address, port)
        race.wait(race.started + timeout)
        race.give_up(timeout)
    finally:
        race.selector.close()
    return [race.attempts[pair] for pair in pairs]


class _Race:
    """Non-blocking connects in flight, and the attempts already decided."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.selector = selectors.DefaultSelector()
        self.attempts: dict[tuple[str, int], Attempt] = {}
        self.sockets: dict[tuple[str, int], socket.socket] = {}

    def elapsed(self) -> int:
        return round((time.monotonic() - self.started) * 1000)

    def start(self, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            self.attempts[(address, port)] = Attempt(address, port, UNREACHABLE, self.elapsed(), _describe(exc.errno))
            return
        sock.setblocking(False)
        icmp.enable(sock)
        number = sock.connect_ex((address, port))
        if number in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            self.sockets[(address, port)] = sock
            self.selector.register(sock, selectors.EVENT_WRITE, (address, port))
        else:
            self._decide(sock, address, port, 0 if number == errno.EISCONN else number)

    def wait(self, deadline: float) -> None:
        """Decide each connect as it completes, until all have or the deadline passes."""
        while self.sockets:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for key, _ in self.selector.select(remaining):
                sock = self.sockets.pop(key.data)
                self.selector.unregister(sock)
                address, port = key.data
                self._decide(sock, address, port, sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))

    def give_up(self, timeout: float) -> None:
        """What is still in flight timed out; the ARP table, read once, names those nobody answered."""
        elapsed = self.elapsed()
        pending = {address for address, _ in self.sockets}
        unanswered = icmp.arp_unanswered() if any(icmp.may_need_arp(a) for a in pending) else frozenset()
        for (address, port), sock in self.sockets.items():
            self.attempts[(address, port)] = _timed_out(address, port, timeout, elapsed, unanswered)
            sock.close()

    def _decide(self, sock: socket.socket, address: str, port: int, number: int) -> None:
        if number == 0:
            self.attempts[(address, port)] = Attempt(address, port, OPEN, self.elapsed())
        else:
            self.attempts[(address, port)] = _failed(sock, address, port, number, self.elapsed())
        sock.close()


def _describe(number: int | None) -> str:
    if number is None:
        return "unknown error"
    return f"{errno.errorcode.get(number, str(number))} ({os.strerror(number)})"
