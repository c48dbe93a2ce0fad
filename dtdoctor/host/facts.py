"""Host facts for the report header: cheap, local, never failing.

Each fact is read defensively: a fact that cannot be read is left out, it
never fails the run. Files (``/etc/os-release``, ``/proc/meminfo``,
``/proc/uptime``, ``/etc/timezone``) are read under the injectable root.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any, Callable

from dtdoctor.host.timesync import ntp_status
from dtdoctor.net.untrusted import ascii_int


def os_release(root: Path) -> dict[str, str]:
    """``/etc/os-release`` (or ``/usr/lib/os-release``) as a dict."""
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        try:
            text = (root / candidate).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        facts: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                facts[key.strip()] = value.strip().strip("'\"")
        return facts
    return {}


def _read(root: Path, absolute: str) -> str | None:
    try:
        return (root / absolute.lstrip("/")).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def memory_bytes(root: Path) -> int | None:
    """Total memory from ``/proc/meminfo`` (Linux), else psutil where it is cheap."""
    text = _read(root, "/proc/meminfo")
    if text:
        for line in text.splitlines():
            if line.startswith("MemTotal:"):
                parts = line.split()
                kib = ascii_int(parts[1], 15) if len(parts) >= 2 else None
                if kib is not None:
                    return kib * 1024
    if root != Path("/"):
        return None
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # psutil may be missing or refuse on an exotic platform
        return None


def uptime_seconds(root: Path) -> int | None:
    text = _read(root, "/proc/uptime")
    if text:
        try:
            return int(float(text.split()[0]))
        except (ValueError, IndexError, OverflowError):  # OverflowError: "inf"
            return None
    if root != Path("/"):
        return None
    try:
        import psutil

        return int(time.time() - psutil.boot_time())
    except Exception:
        return None


def time_zone(root: Path) -> str | None:
    """The configured zone name (``/etc/timezone`` or the ``/etc/localtime`` link), else the abbreviation."""
    text = _read(root, "/etc/timezone")
    if text and text.strip():
        return text.strip()
    try:
        target = os.readlink(root / "etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    if root != Path("/"):
        return None
    return time.tzname[time.daylight and time.localtime().tm_isdst > 0] or None


def kernel(root: Path) -> str | None:
    text = _read(root, "/proc/sys/kernel/osrelease")
    if text and text.strip():
        return text.strip()
    if root != Path("/"):
        return None
    import platform

    return platform.release()


def _safe(compute: Callable[[], Any]) -> Any:
    try:
        return compute()
    except Exception:  # a fact that cannot be read is left out
        return None


def collect(root: Path = Path("/")) -> dict[str, Any]:
    # Imported here: Python 3.9's platform imports subprocess, which only some probes need before the report.
    import platform

    facts: dict[str, Any] = {
        "hostname": _safe(socket.gethostname),
        "os": f"{platform.system()} {platform.release()}".strip(),
        "python": platform.python_version(),
        "container": None,
    }
    release = os_release(root)
    if release.get("PRETTY_NAME"):
        facts["distribution"] = release["PRETTY_NAME"]
    elif release.get("NAME"):
        facts["distribution"] = f"{release['NAME']} {release.get('VERSION_ID', '')}".strip()
    optional: dict[str, Any] = {
        "kernel": _safe(lambda: kernel(root)),
        "architecture": _safe(platform.machine),
        "python_implementation": _safe(platform.python_implementation),
        "cpu_count": _safe(os.cpu_count),
        "memory_bytes": _safe(lambda: memory_bytes(root)),
        "uptime_s": _safe(lambda: uptime_seconds(root)),
        "time_zone": _safe(lambda: time_zone(root)),
        "ntp": _safe(lambda: ntp_status(root).sentence),
    }
    facts.update({key: value for key, value in optional.items() if value not in (None, "")})
    return facts
