"""The lab's network: three namespaces joined by veth pairs, with a router between.

    client (dtlabc)              router (dtlabr)               servers (dtlabs)
    10.201.1.2/24  ---- veth ---- 10.201.1.1 | 10.201.2.1 ---- veth ---- 10.201.2.x/24
    fd00:201:1::2/64             fd00:201:1::1 | fd00:201:2::1            fd00:201:2::x/64

dtdoctor runs in the client namespace (``ip netns exec``, which also mounts
``/etc/netns/dtlabc/resolv.conf`` over ``/etc/resolv.conf``, so the lab's DNS
is the client's resolver). Firewall rules live in the router's FORWARD chain,
so ICMP errors come from a router address, as they do from a real firewall.
Every name starts with ``dtlab`` and every address is in 10.201.0.0/16 or
fd00:201::/48; nothing outside these namespaces is touched.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Sequence

PREFIX = "dtlab"
CLIENT = "dtlabc"
ROUTER = "dtlabr"
SERVERS = "dtlabs"
NAMESPACES = (CLIENT, ROUTER, SERVERS)

CLIENT_IP = "10.201.1.2"
CLIENT_IP6 = "fd00:201:1::2"
ROUTER_CLIENT_SIDE = "10.201.1.1"
ROUTER_CLIENT_SIDE6 = "fd00:201:1::1"
ROUTER_SERVER_SIDE = "10.201.2.1"
ROUTER_SERVER_SIDE6 = "fd00:201:2::1"
# An address on the client's own subnet that no host owns: ARP for it goes unanswered.
NOBODY_ON_LINK = "10.201.1.99"
# A network the router has no route for: it answers ICMP net unreachable.
UNROUTED = "10.201.99.1"
# An IPv6 network the client has no route for at all (its IPv6 default route is absent on purpose).
NO_ROUTE6 = "fd00:201:99::1"

_LOCK_PATH = Path("/run/dtlab.lock")
_NETNS_ETC = Path("/etc/netns")


class LabUnavailable(Exception):
    """The machine cannot build the lab (not root, no namespaces, a package missing)."""


def run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=timeout)


def in_ns(namespace: str, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", namespace, *argv, check=check, timeout=timeout)


def popen_in(namespace: str, argv: Sequence[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start a long-running process in a namespace; ``ip netns exec`` execs it, so the pid is the process's."""
    return subprocess.Popen(["ip", "netns", "exec", namespace, *argv], stdout=log, stderr=subprocess.STDOUT)


def acquire_lock(wait: float | None) -> IO[str] | None:
    """One lab at a time on this machine: a second test run waits instead of tearing down the first one's lab.

    ``wait`` None waits as long as it takes; otherwise None is returned when the
    lab stays busy that long.
    """
    handle = open(_LOCK_PATH, "a")  # held for the whole session
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
            return handle
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline:
                handle.close()
                return None
            time.sleep(0.5)


def leftovers() -> list[str]:
    listed = run("ip", "netns", "list", check=False).stdout.split()
    return [name for name in listed if name.startswith(PREFIX)]


def kill_leftover_processes() -> None:
    """Processes an interrupted run left inside the lab's namespaces (found by namespace, stopped by pid)."""
    for namespace in leftovers():
        pids = run("ip", "netns", "pids", namespace, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass


def scratch_folder() -> Path:
    """A fresh folder for the lab's configuration, certificates and logs, readable by dropped-privilege workers."""
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    folder.chmod(0o755)
    return folder


def remove() -> None:
    """Remove the lab, or what an interrupted run left: processes, namespaces, resolver files, scratch folders."""
    kill_leftover_processes()
    for leftover in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for namespace in leftovers():
        run("ip", "netns", "delete", namespace, check=False)
    for namespace in NAMESPACES:
        shutil.rmtree(_NETNS_ETC / namespace, ignore_errors=True)


def _sysctls(namespace: str) -> None:
    for setting in (
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        # Linux rate-limits ICMP errors; the lab asks for many in a row.
        "net.ipv4.icmp_ratelimit=0",
        "net.ipv6.icmp.ratelimit=0",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
    ):
        in_ns(namespace, "sysctl", "-q", "-w", setting)


def _addresses(namespace: str, device: str, v4: Sequence[str], v6: Sequence[str]) -> None:
    for address in v4:
        in_ns(namespace, "ip", "addr", "add", address, "dev", device)
    for address in v6:
        in_ns(namespace, "ip", "-6", "addr", "add", address, "dev", device, "nodad")
    in_ns(namespace, "ip", "link", "set", device, "up")


def create(server_ips: Sequence[str], server_ips6: Sequence[str], resolver: str) -> None:
    """Build the three namespaces; ``server_ips`` are the host parts in 10.201.2.0/24 the servers answer on."""
    for name in ("ip", "iptables", "ip6tables", "sysctl"):
        if shutil.which(name) is None:
            raise LabUnavailable(f"{name} is not installed (apt-get install iproute2 iptables procps)")
    remove()
    for namespace in NAMESPACES:
        made = run("ip", "netns", "add", namespace, check=False)
        if made.returncode != 0:
            raise LabUnavailable(f"cannot create network namespace {namespace}: {made.stderr.strip()}")
        in_ns(namespace, "ip", "link", "set", "lo", "up")
        _sysctls(namespace)
    run("ip", "link", "add", "dtlabc0", "netns", CLIENT, "type", "veth", "peer", "name", "dtlabrc", "netns", ROUTER)
    run("ip", "link", "add", "dtlabs0", "netns", SERVERS, "type", "veth", "peer", "name", "dtlabrs", "netns", ROUTER)
    _addresses(CLIENT, "dtlabc0", [f"{CLIENT_IP}/24"], [f"{CLIENT_IP6}/64"])
    _addresses(ROUTER, "dtlabrc", [f"{ROUTER_CLIENT_SIDE}/24"], [f"{ROUTER_CLIENT_SIDE6}/64"])
    _addresses(ROUTER, "dtlabrs", [f"{ROUTER_SERVER_SIDE}/24"], [f"{ROUTER_SERVER_SIDE6}/64"])
    _addresses(SERVERS, "dtlabs0", [f"{ip}/24" for ip in server_ips], [f"{ip}/64" for ip in server_ips6])
    in_ns(CLIENT, "ip", "route", "add", "default", "via", ROUTER_CLIENT_SIDE)
    # Only the lab's IPv6 networks are routed from the client: NO_ROUTE6 has no route at all.
    in_ns(CLIENT, "ip", "-6", "route", "add", "fd00:201:2::/64", "via", ROUTER_CLIENT_SIDE6)
    in_ns(SERVERS, "ip", "route", "add", "default", "via", ROUTER_SERVER_SIDE)
    in_ns(SERVERS, "ip", "-6", "route", "add", "default", "via", ROUTER_SERVER_SIDE6)
    # The router knows both lab networks and nothing else: UNROUTED gets ICMP net unreachable from it.
    in_ns(ROUTER, "ip", "route", "add", "unreachable", "10.201.99.0/24")
    for namespace in NAMESPACES:
        folder = _NETNS_ETC / namespace
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "resolv.conf").write_text(f"nameserver {resolver}\noptions timeout:1 attempts:1\n")


def set_client_resolver(resolver: str, options: str = "timeout:1 attempts:1") -> None:
    """Point the client's /etc/resolv.conf (as ``ip netns exec`` mounts it) at another lab resolver."""
    (_NETNS_ETC / CLIENT / "resolv.conf").write_text(f"nameserver {resolver}\noptions {options}\n")


def firewall(namespace: str, *rules: Sequence[str], ipv6: bool = False) -> None:
    tool = "ip6tables" if ipv6 else "iptables"
    for rule in rules:
        in_ns(namespace, tool, "-w", *rule)
