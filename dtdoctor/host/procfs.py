"""Processes and the sockets they hold, read from Linux's ``/proc`` the way psutil reads them.

- Who holds a listening TCP port: ``/proc/net/tcp`` and ``/proc/net/tcp6``
  list each socket with its state and inode, and a process holds the socket
  when one of its descriptors in ``/proc/<pid>/fd`` links to
  ``socket:[<inode>]``. psutil's ``net_connections`` reads the same files,
  but links every socket of every process before it answers (and importing
  psutil costs some 15 ms more): about 35 ms of CPU for one port in a small
  container, against about 7 here, which stops at the holder.
- Processes by name: ``/proc/<pid>/comm``, then name, executable and user
  of the ones wanted only.

The folder is a parameter so tests can build a host's ``/proc``; elsewhere
than Linux, ``host/processes.py`` asks psutil.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Callable

from dtdoctor.host.processes import NOT_PERMITTED, Owner, ProcessInfo

LISTEN = "0A"  # TCP_LISTEN, as /proc/net/tcp prints a socket's state (include/net/tcp_states.h)
# Every address of either family: 0.0.0.0 and ::, as the kernel prints them.
_EVERY_ADDRESS = frozenset({"0" * 8, "0" * 32})


def kernel_hex(address: str) -> str:
    """``address`` as /proc/net/tcp prints it: each 32-bit word of the network-order address as a native integer."""
    packed = socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    return "".join(f"{int.from_bytes(packed[i : i + 4], sys.byteorder):08X}" for i in range(0, len(packed), 4))


def listening_links(proc: Path, port: int, host: str) -> set[str] | None:
    """The ``socket:[inode]`` links of sockets listening on ``port`` at ``host`` or every address.

    None when neither table can be read (not Linux, or no ``/proc``): the caller asks psutil instead.
    """
    wanted = {kernel_hex(host)} | _EVERY_ADDRESS
    links: set[str] = set()
    tables = 0
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text(encoding="ascii", errors="replace").splitlines()[1:]
        except OSError:
            continue
        tables += 1
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN:
                continue
            address, local_port = _local(fields[1])
            if local_port == port and address in wanted:
                links.add(f"socket:[{fields[9]}]")
    return links if tables else None


def _local(field: str) -> tuple[str, int]:
    address, _, port = field.partition(":")
    try:
        return address, int(port, 16)
    except ValueError:
        return address, -1


def pids(proc: Path) -> list[str] | None:
    """The process folders in ``proc``; None when it cannot be listed."""
    try:
        return [entry.name for entry in os.scandir(proc) if entry.name.isdigit()]
    except OSError:
        return None


def comms(proc: Path, wanted: Callable[[str], bool], listing: list[str] | None = None) -> dict[int, str] | None:
    """Pid -> ``comm`` (the first 15 bytes of the name) of the processes whose name is ``wanted``, among
    ``listing`` (by default, every process in ``proc``); None when ``proc`` cannot be listed."""
    listing = pids(proc) if listing is None else listing
    if listing is None:
        return None
    found: dict[int, str] = {}
    for pid in listing:
        try:
            with open(f"{proc}/{pid}/comm", "rb") as comm:
                name = comm.read(64).decode("utf-8", "replace").rstrip("\n")
        except OSError:  # gone since the listing
            continue
        if wanted(name):
            found[int(pid)] = name
    return found


def named(proc: Path, wanted: Callable[[str], bool]) -> list[int] | None:
    """Pids whose ``comm`` is ``wanted``; None when ``proc`` cannot be listed."""
    found = comms(proc, wanted)
    return None if found is None else list(found)


def holder(proc: Path, links: set[str]) -> int | None:
    """The first process with a descriptor linked to one of ``links``; None when none that can be read has one."""
    for pid in pids(proc) or ():
        folder = f"{proc}/{pid}/fd"
        try:
            descriptors = os.listdir(folder)
        except OSError:  # another user's process, or gone since the listing
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"{folder}/{descriptor}") in links:
                    return int(pid)
            except OSError:
                continue
    return None


def describe(proc: Path, pid: int) -> ProcessInfo:
    """Name, executable and user of ``pid``, each None where it cannot be read (as psutil names them).

    The command line is read for a long name alone: it may hold another program's password (``--proxy=...``).
    """
    folder = proc / str(pid)
    comm = _read(folder / "comm").decode("utf-8", "replace").rstrip("\n")
    try:
        exe: str | None = os.readlink(folder / "exe") or None
    except OSError:
        exe = None
    return ProcessInfo(pid, _name(folder, comm), exe, _user(folder))


def _name(folder: Path, comm: str) -> str | None:
    """``comm`` keeps 15 bytes of the name: psutil takes the command line's program when it starts with them.

    Only then is the command line read, and only its program kept."""
    if len(comm) >= 15:
        program = os.path.basename(_read(folder / "cmdline").split(b"\0", 1)[0].decode("utf-8", "replace"))
        if program.startswith(comm):
            return program
    return comm or None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _user(folder: Path) -> str | None:
    """The real user's name (the number where no name is known), from ``status``'s ``Uid:`` line."""
    for line in _read(folder / "status").decode("ascii", "replace").splitlines():
        fields = line.split()
        if fields[:1] == ["Uid:"] and len(fields) > 1 and fields[1].isdigit():
            import pwd

            try:
                return pwd.getpwuid(int(fields[1])).pw_name
            except KeyError:
                return fields[1]
    return None


def listener_owner_from_proc(port: int, host: str, proc: Path = Path("/proc")) -> Owner | None:
    """Who listens on ``port`` at ``host`` (or every address), from ``proc``; None where it has no socket tables."""
    links = listening_links(proc, port, host)
    if links is None:
        return None
    if not links:
        return Owner(False, None, "no listening socket seen on that port")
    pid = holder(proc, links)
    if pid is None:
        return Owner(True, None, "the owning process is " + NOT_PERMITTED)
    return Owner(True, describe(proc, pid))
