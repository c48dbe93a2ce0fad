"""What the network said about a failed connect: the ICMP error and who sent it.

On Linux a socket with ``IP_RECVERR`` (``IPV6_RECVERR`` for IPv6) keeps the
ICMP error that ended its connect in its error queue, with the type, the code
and the address of the router or firewall that sent it. That address is the
difference between "this host has no route" (nothing came back), "router X
cannot reach the host" and "firewall X rejects the port". An error sent by
this host itself to itself means the neighbour (ARP or IPv6 neighbour
discovery) lookup for an on-link address got no reply. Elsewhere the
functions here return nothing and the errno alone decides.
"""

from __future__ import annotations

import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

# Linux's numbers; older Pythons lack the constants.
IP_RECVERR = 11
IPV6_RECVERR = 25
_SO_EE_ORIGIN_ICMP = 2
_SO_EE_ORIGIN_ICMP6 = 3
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err

# What an ICMP error means for a TCP connect: (IPv6?, type, code) -> (kind, name).
PROHIBITED = "prohibited"  # administratively: a firewall rule
PORT_UNREACHABLE = "port_unreachable"  # a device that is not the destination rejects the port
HOST_UNREACHABLE = "host_unreachable"
NET_UNREACHABLE = "net_unreachable"
_MEANINGS: dict[tuple[bool, int, int], tuple[str, str]] = {
    (False, 3, 0): (NET_UNREACHABLE, "net unreachable"),
    (False, 3, 1): (HOST_UNREACHABLE, "host unreachable"),
    (False, 3, 3): (PORT_UNREACHABLE, "port unreachable"),
    (False, 3, 6): (NET_UNREACHABLE, "destination network unknown"),
    (False, 3, 7): (HOST_UNREACHABLE, "destination host unknown"),
    (False, 3, 9): (PROHIBITED, "net prohibited"),
    (False, 3, 10): (PROHIBITED, "host prohibited"),
    (False, 3, 13): (PROHIBITED, "admin prohibited"),
    (True, 1, 0): (NET_UNREACHABLE, "no route to destination"),
    (True, 1, 1): (PROHIBITED, "administratively prohibited"),
    (True, 1, 3): (HOST_UNREACHABLE, "address unreachable"),
    (True, 1, 4): (PORT_UNREACHABLE, "port unreachable"),
    (True, 1, 5): (PROHIBITED, "source address failed ingress/egress policy"),
    (True, 1, 6): (PROHIBITED, "reject route to destination"),
}


@dataclass(frozen=True)
class IcmpError:
    """One ICMP error from the socket's error queue."""

    sender: str  # the router or firewall that sent it (this host itself for a neighbour failure)
    ipv6: bool
    type: int
    code: int

    @property
    def kind(self) -> str:
        return _MEANINGS.get((self.ipv6, self.type, self.code), (HOST_UNREACHABLE, ""))[0]

    @property
    def name(self) -> str:
        known = _MEANINGS.get((self.ipv6, self.type, self.code), ("", ""))[1]
        label = f"ICMPv6 {known}" if self.ipv6 else f"ICMP {known}"
        return f"{label} (type {self.type}, code {self.code})" if known else f"{label}type {self.type} code {self.code}"

    def to_json(self) -> dict[str, object]:
        return {"from": self.sender, "type": self.type, "code": self.code, "name": self.name, "kind": self.kind}


def enable(sock: socket.socket) -> None:
    """Ask the kernel to queue ICMP errors on ``sock`` (Linux only; elsewhere nothing happens)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        if sock.family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    except OSError:
        pass


def queued_error(sock: socket.socket) -> IcmpError | None:
    """The ICMP error queued on ``sock``, if one is (never blocks)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        _, ancillary, _, _ = sock.recvmsg(256, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except OSError:
        return None
    for _, _, data in ancillary:
        found = _parse(data)
        if found is not None:
            return found
    return None


def _parse(data: bytes) -> IcmpError | None:
    if len(data) < _EXTENDED_ERR.size + 2:
        return None
    _, origin, kind, code, _, _, _ = _EXTENDED_ERR.unpack_from(data)
    if origin not in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
        return None
    offender = data[_EXTENDED_ERR.size:]
    (family,) = struct.unpack_from("=H", offender)
    if family == socket.AF_INET and len(offender) >= 8:
        sender = socket.inet_ntop(socket.AF_INET, offender[4:8])
    elif family == socket.AF_INET6 and len(offender) >= 24:
        sender = socket.inet_ntop(socket.AF_INET6, offender[8:24])
    else:
        return None
    return IcmpError(sender, origin == _SO_EE_ORIGIN_ICMP6, kind, code)


def own_address(sock: socket.socket) -> str:
    """The address this socket was bound to (the sender of a self-made neighbour-failure error)."""
    try:
        return str(sock.getsockname()[0])
    except OSError:
        return ""


def arp_unanswered(root: Path = Path("/")) -> frozenset[str]:
    """The addresses Linux's ARP table holds as incomplete: this host asked, nobody answered.

    Read once when connects timed out, so the verdict does not depend on
    whether the timeout was longer than the kernel's ARP retries (about 3 s).
    """
    try:
        lines = (root / "proc/net/arp").read_text(encoding="ascii", errors="replace").splitlines()[1:]
    except OSError:
        return frozenset()
    # ATF_COM unset (flags 0x0): the lookup never completed.
    return frozenset(fields[0] for fields in map(str.split, lines) if len(fields) >= 4 and fields[2] == "0x0")


def may_need_arp(address: str) -> bool:
    """Whether a connect to ``address`` can wait on ARP: IPv4, and not loopback (never on a link)."""
    return ":" not in address and not address.startswith("127.")
