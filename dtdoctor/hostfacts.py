"""Host facts for the report header: cheap, local, never failing.

Each fact is read defensively: a fact that cannot be read is left out, it
never fails the run.
"""

from __future__ import annotations

import platform
import socket
from pathlib import Path
from typing import Any


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


def collect(root: Path = Path("/")) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}".strip(),
        "python": platform.python_version(),
        "container": None,
    }
    release = os_release(root)
    if release.get("PRETTY_NAME"):
        facts["distribution"] = release["PRETTY_NAME"]
    facts["architecture"] = platform.machine()
    return facts
