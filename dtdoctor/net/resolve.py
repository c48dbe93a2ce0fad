"""Name resolution with a real timeout and the resolver's reason on failure.

``getaddrinfo`` has no timeout of its own, so it runs in a daemon thread
that is abandoned when the timeout passes.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field

# EAI_* names differ by platform; look them up rather than hard-coding numbers.
_EAI_NAMES = {
    getattr(socket, name): name
    for name in ("EAI_NONAME", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "EAI_ADDRFAMILY", "EAI_SERVICE", "EAI_SYSTEM")
    if hasattr(socket, name)
}


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one host name."""

    host: str
    addresses: tuple[str, ...] = ()
    elapsed_ms: int = 0
    literal: bool = False  # the host was an IP address: no lookup happened
    timed_out: bool = False
    error_name: str = ""  # EAI_NONAME, EAI_AGAIN ...
    error_message: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return bool(self.addresses)

    @property
    def ipv4(self) -> list[str]:
        return [a for a in self.addresses if ":" not in a]

    @property
    def ipv6(self) -> list[str]:
        return [a for a in self.addresses if ":" in a]


def resolve(host: str, timeout: float) -> Resolution:
    try:
        ipaddress.ip_address(host)
        return Resolution(host, (host,), 0, literal=True)
    except ValueError:
        pass
    outcome: dict[str, object] = {}

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            outcome["infos"] = infos
        except socket.gaierror as exc:
            outcome["gaierror"] = exc
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=lookup, name=f"dtdoctor-resolve-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    elapsed = round((time.monotonic() - started) * 1000)
    if worker.is_alive():
        return Resolution(host, elapsed_ms=elapsed, timed_out=True, error_message=f"no answer within {timeout:g} s")
    if "gaierror" in outcome:
        exc = outcome["gaierror"]
        assert isinstance(exc, socket.gaierror)
        name = _EAI_NAMES.get(exc.errno, f"EAI {exc.errno}")
        return Resolution(host, elapsed_ms=elapsed, error_name=name, error_message=str(exc.strerror or exc))
    if "error" in outcome:
        return Resolution(host, elapsed_ms=elapsed, error_name="ERROR", error_message=str(outcome["error"]))
    addresses: list[str] = []
    for family, _, _, _, sockaddr in outcome.get("infos", []):  # type: ignore[attr-defined]
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in addresses:
            addresses.append(address)
    return Resolution(host, tuple(addresses), elapsed)
