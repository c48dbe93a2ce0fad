"""Live process facts: OneAgent's processes, who holds a listening port.

Read from Linux's ``/proc`` (``host/procfs.py``), through psutil elsewhere;
psutil is imported lazily (startup stays light). Every lookup degrades to a
reason instead of raising: ``AccessDenied`` (another user's process, macOS
without root), a missing ``/proc``, psutil itself missing.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOT_PERMITTED = "not permitted (run as root/admin to see it)"


@dataclass(frozen=True)
class ProcessInfo:
    pid: int | None
    name: str | None
    exe: str | None = None
    user: str | None = None

    @property
    def is_oneagent(self) -> bool:
        name = (self.name or "").lower()
        return name.startswith("oneagent") or "dynatrace" in (self.exe or "").lower()

    def to_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "name": self.name or NOT_PERMITTED,
            "exe": self.exe or NOT_PERMITTED,
            "user": self.user or NOT_PERMITTED,
        }

    def label(self) -> str:
        name = self.name or "unknown process"
        return f"{name} (pid {self.pid})" if self.pid is not None else name


@dataclass(frozen=True)
class Owner:
    """Who listens on a port: the process when permitted, else why not."""

    found: bool  # a listening socket on the port was seen
    process: ProcessInfo | None = None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"listener_seen": self.found}
        if self.process is not None:
            data["process"] = self.process.to_json()
        if self.note:
            data["note"] = self.note
        return data


def _describe(psutil: Any, pid: int) -> ProcessInfo:
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return ProcessInfo(pid, None)
    except (psutil.Error, OSError):
        return ProcessInfo(pid, None)

    def attempt(method: str) -> str | None:
        try:
            value = getattr(process, method)()
        except (psutil.Error, OSError):
            return None
        return str(value) or None

    return ProcessInfo(pid, attempt("name"), attempt("exe"), attempt("username"))


def listener_owner(port: int, host: str = "127.0.0.1", proc: Path = Path("/proc")) -> Owner:
    """The process listening on TCP ``port`` on ``host`` (or on every address).

    Read from Linux's ``/proc`` (``host/procfs.py``), stopping at the
    holder; psutil elsewhere, which links every socket of every process first.
    """
    if sys.platform.startswith("linux"):
        from dtdoctor.host.procfs import listener_owner_from_proc

        found = listener_owner_from_proc(port, host, proc)
        if found is not None:
            return found
    try:
        import psutil
    except ImportError:
        return Owner(False, None, "psutil is not installed")
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return Owner(False, None, "listing sockets is " + NOT_PERMITTED)
    except (psutil.Error, OSError, NotImplementedError) as exc:
        return Owner(False, None, f"cannot list sockets: {exc}")
    for connection in connections:
        if _listens_on(connection, psutil.CONN_LISTEN, port, host):
            if connection.pid is None:
                return Owner(True, None, "the owning process is " + NOT_PERMITTED)
            return Owner(True, _describe(psutil, connection.pid))
    return Owner(False, None, "no listening socket seen on that port")


_WILDCARD = ("0.0.0.0", "::", "")


def _listens_on(connection: Any, listen: str, port: int, host: str) -> bool:
    """Whether a socket of ``psutil.net_connections`` listens on ``port`` at ``host`` or on every address."""
    if connection.status != listen or not connection.laddr:
        return False
    address, listen_port = connection.laddr[0], connection.laddr[1]
    return bool(listen_port == port and (address == host or address in _WILDCARD))


def oneagent_processes(root: Path | None = None, proc: Path = Path("/proc")) -> tuple[list[ProcessInfo], str]:
    """Running processes whose name starts with ``oneagent``; (processes, note).

    Names are read first, and executable and user only for the processes so
    named: resolving every process's user name can mean a directory lookup
    (LDAP through NSS) each. On Linux from ``/proc`` (``host/procfs.py``),
    psutil elsewhere. With a filesystem ``root`` other than ``/`` (a host
    built in a folder), only processes whose executable lies under it are
    that host's: the machine's every process is seen, and another program's
    process named like OneAgent's must not appear as the host's (nor its path
    in a report).
    """
    from_proc = _oneagents_from_proc(proc)
    if from_proc is not None:
        return [info for info in from_proc if _runs_from(info.exe, root)], ""
    try:
        import psutil
    except ImportError:
        return [], "psutil is not installed"
    found: list[ProcessInfo] = []
    try:
        for process in psutil.process_iter(["pid", "name"]):
            if _oneagent_name(process.info["name"]):
                info = _describe(psutil, process.info["pid"])
                if _oneagent_name(info.name) and _runs_from(info.exe, root):
                    found.append(info)
    except (psutil.Error, OSError) as exc:
        return found, f"cannot list processes: {exc}"
    return found, ""


def _oneagents_from_proc(proc: Path = Path("/proc")) -> list[ProcessInfo] | None:
    """The processes named ``oneagent*``, described from Linux's ``/proc``; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    from dtdoctor.host import procfs

    pids = procfs.named(proc, _oneagent_name)
    if pids is None:
        return None
    described = (procfs.describe(proc, pid) for pid in pids)
    return [info for info in described if _oneagent_name(info.name)]


def _oneagent_name(name: str | None) -> bool:
    return (name or "").lower().startswith("oneagent")


def _runs_from(exe: str | None, root: Path | None) -> bool:
    """Whether a process with executable ``exe`` belongs to the host whose filesystem is ``root``."""
    if root is None or os.path.realpath(root) == os.path.realpath("/"):
        return True
    return bool(exe) and os.path.realpath(str(exe)).startswith(os.path.realpath(root) + os.sep)
