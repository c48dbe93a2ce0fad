"""Is this host's clock kept in sync by NTP, as far as the OS tells?

Read from files under the injectable root: systemd-timesyncd's
``/run/systemd/timesync/synchronized`` flag, and running time daemons
(chronyd, ntpd, systemd-timesyncd) found in ``/proc`` or by their pid
files. Where nothing can be told (no ``/proc``, another OS) the answer is
``unknown``, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SYNCHRONIZED = "synchronized"
SERVICE_RUNNING = "service_running"  # a daemon runs; whether it is in sync is not visible from files
NOT_SYNCHRONIZED = "not_synchronized"
NONE = "none"  # /proc was readable and no time daemon runs
UNKNOWN = "unknown"
CONTAINER = "container"  # in a container: the clock is the host's, whose time daemon is not visible from inside

_DAEMONS = ("chronyd", "ntpd", "systemd-timesyn", "openntpd", "timesyncd", "ntpsec")
_PID_FILES = (
    ("run/chrony/chronyd.pid", "chronyd"),
    ("var/run/chrony/chronyd.pid", "chronyd"),
    ("run/chronyd.pid", "chronyd"),
    ("var/run/chronyd.pid", "chronyd"),
    ("run/ntpd.pid", "ntpd"),
    ("var/run/ntpd.pid", "ntpd"),
)


@dataclass(frozen=True)
class NtpStatus:
    state: str
    service: str | None = None
    evidence: str = ""

    @property
    def sentence(self) -> str:
        if self.state == SYNCHRONIZED:
            return f"NTP synchronisation is active ({self.service})"
        if self.state == SERVICE_RUNNING:
            return f"{self.service} is running (its sync state is not visible here)"
        if self.state == NOT_SYNCHRONIZED:
            return f"{self.service} runs but reports the clock as not synchronised"
        if self.state == NONE:
            return "no NTP service (chronyd, ntpd, systemd-timesyncd) is running"
        if self.state == CONTAINER:
            return f"this is a {self.service} container, whose clock is its host's: the host's NTP state is not " \
                "visible here"
        return "whether NTP synchronisation is active is unknown"

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "service": self.service, "evidence": self.evidence}


def _running_daemons(proc: Path) -> list[str] | None:
    """Names of time daemons running, or None when /proc cannot be read (or lists no process)."""
    from dtdoctor.host import procfs

    listing = procfs.pids(proc)
    if not listing:
        return None
    found = procfs.comms(proc, lambda name: name in _DAEMONS, listing) or {}
    return list(dict.fromkeys(found.values()))


def ntp_status(root: Path) -> NtpStatus:
    flag = root / "run/systemd/timesync/synchronized"
    if flag.exists():
        return NtpStatus(SYNCHRONIZED, "systemd-timesyncd", "/run/systemd/timesync/synchronized exists")
    daemons = _running_daemons(root / "proc")
    if daemons:
        return _from_daemons(daemons)
    for relative, service in _PID_FILES:
        if (root / relative).is_file():
            return NtpStatus(SERVICE_RUNNING, service, f"/{relative} exists")
    if daemons is not None:
        return NtpStatus(NONE, None, "no time daemon found in /proc")
    return NtpStatus(UNKNOWN, None, "/proc is not readable")


def seen_from_container(status: NtpStatus, runtime: str) -> NtpStatus:
    """What ``status`` tells from inside a container: a container has no clock of its own (it reads its host's
    kernel clock), so no time daemon inside proves nothing; a sync state that is visible stays."""
    if status.state in (NONE, UNKNOWN):
        return NtpStatus(CONTAINER, runtime, f"a {runtime} container; {status.evidence}")
    return status


def _from_daemons(daemons: list[str]) -> NtpStatus:
    """What the time daemons running say: another daemon's sync state is not visible, timesyncd's would be."""
    names = ["systemd-timesyncd" if name.startswith("systemd-timesyn") else name for name in daemons]
    if names == ["systemd-timesyncd"]:
        return NtpStatus(
            NOT_SYNCHRONIZED, "systemd-timesyncd", "running, but /run/systemd/timesync/synchronized is absent"
        )
    service = next(name for name in names if name != "systemd-timesyncd")
    return NtpStatus(SERVICE_RUNNING, service, f"{service} found in /proc")
