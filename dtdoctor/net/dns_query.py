"""Ask each configured resolver directly what it says about a name (dnspython).

The system resolver (``getaddrinfo``) stays the first judge: it is what
clients use. When it fails, its error is ambiguous (glibc says "temporary
failure" for a SERVFAIL, a REFUSED and silence alike), so each nameserver of
``/etc/resolv.conf`` is asked for the A and AAAA records, all at once, and
its answer named: NXDOMAIN, NODATA (the name exists without addresses),
SERVFAIL, REFUSED, or no answer. Without dnspython nothing is asked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

NXDOMAIN = "NXDOMAIN"
NODATA = "NODATA"
SERVFAIL = "SERVFAIL"
REFUSED = "REFUSED"
ANSWERED = "ANSWERED"  # the resolver has addresses for the name (the system resolver did not use them)
SILENT = "SILENT"  # no answer within the timeout
OTHER = "OTHER"

# The systemd-resolved stub listens here; the servers it forwards to are listed in this file.
STUB = ("127.0.0.53", "127.0.0.54")
_RESOLVED_UPSTREAMS = "/run/systemd/resolve/resolv.conf"


@dataclass(frozen=True)
class ServerAnswer:
    """What one nameserver said about the name."""

    server: str
    answer: str  # one of the constants above
    ms: int
    rcode: str = ""

    def to_json(self) -> dict[str, object]:
        return {"server": self.server, "answer": self.answer, "rcode": self.rcode, "ms": self.ms}


def nameservers(root: Path) -> list[str]:
    """The ``nameserver`` lines of ``<root>/etc/resolv.conf``, in order."""
    return _servers_in(root / "etc/resolv.conf")


def stub_upstreams(root: Path, servers: list[str]) -> list[str]:
    """The servers behind the systemd-resolved stub, when the stub is the configured resolver."""
    if not any(server in STUB for server in servers):
        return []
    return [server for server in _servers_in(root / _RESOLVED_UPSTREAMS.lstrip("/")) if server not in STUB]


def _servers_in(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


def ask_all(host: str, servers: list[str], timeout: float) -> list[ServerAnswer]:
    """Each server's answer for ``host``, asked concurrently; empty when dnspython is not installed."""
    try:
        import dns.message  # noqa: F401  (only to know it is there)
    except ImportError:
        return []
    answers: dict[str, ServerAnswer] = {}

    def ask_one(server: str) -> None:
        answers[server] = ask(host, server, timeout)

    workers = [threading.Thread(target=ask_one, args=(server,), daemon=True) for server in servers]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + timeout + 0.5
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    return [answers.get(server, ServerAnswer(server, SILENT, round(timeout * 1000))) for server in servers]


def ask(host: str, server: str, timeout: float) -> ServerAnswer:
    """One server's answer: A first, AAAA when A has none."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    import dns.rdatatype

    started = time.monotonic()
    rcode = dns.rcode.NOERROR
    for kind in (dns.rdatatype.A, dns.rdatatype.AAAA):
        remaining = timeout - (time.monotonic() - started)
        try:
            reply = dns.query.udp(dns.message.make_query(host, kind), server, timeout=max(0.05, remaining))
        except dns.exception.Timeout:
            return ServerAnswer(server, SILENT, _ms(started))
        except (OSError, dns.exception.DNSException) as exc:
            return ServerAnswer(server, OTHER, _ms(started), type(exc).__name__)
        rcode = reply.rcode()
        if rcode != dns.rcode.NOERROR:
            break
        if any(rrset.rdtype == kind for rrset in reply.answer):
            return ServerAnswer(server, ANSWERED, _ms(started), "NOERROR")
    name = dns.rcode.to_text(rcode)
    named = {"NXDOMAIN": NXDOMAIN, "SERVFAIL": SERVFAIL, "REFUSED": REFUSED, "NOERROR": NODATA}
    return ServerAnswer(server, named.get(name, OTHER), _ms(started), name)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
