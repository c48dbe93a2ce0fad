"""Where OneAgent's local ingest endpoint (the EEC) should listen on this host.

The port comes from ``--eec-port``/``DT_EEC_PORT``, else from OneAgent's own
configuration (``oneagentctl --get-extensions-ingest-port``), else the
documented default 14499. The endpoint is bound to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dtdoctor.config import DEFAULT_EEC_PORT, format_address
from dtdoctor.core.context import RunContext
from dtdoctor.net.untrusted import ascii_int

EEC_HOST = "127.0.0.1"
EEC_INGEST_PATH = "/v2/events/ingest"
LINUX_TOOLS = "/opt/dynatrace/oneagent/agent/tools"
WINDOWS_TOOLS = r"dynatrace\oneagent\agent\tools"


@dataclass(frozen=True)
class EecPort:
    port: int
    source: str  # "--eec-port", "DT_EEC_PORT", "oneagentctl", "default"
    note: str = ""  # why OneAgent's configured port could not be read, when it could not

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"port": self.port, "source": self.source}
        if self.note:
            data["note"] = self.note
        return data


LINUX_INSTALL = "/opt/dynatrace/oneagent"
LINUX_CONFIG = "/var/lib/dynatrace/oneagent/agent/config"
WINDOWS_INSTALL = ("dynatrace", "oneagent")  # under %PROGRAMFILES%, as parts so any host's Path joins them
# Where a custom INSTALL_PATH shows: the service definition runs programs under it.
SERVICE_DEFINITIONS = (
    "/etc/systemd/system/oneagent.service",
    "/usr/lib/systemd/system/oneagent.service",
    "/lib/systemd/system/oneagent.service",
    "/etc/init.d/oneagent",
)
_AGENT_PATH = re.compile(r"(/[^\s'\"=;]+?)/agent/")


@dataclass(frozen=True)
class Installation:
    """Where OneAgent is installed on this host, and how that was found."""

    path: Path | None
    source: str  # "default path", "PROGRAMFILES", "service definition <file>", or "" when not found
    config_dir: Path | None = None
    looked_at: tuple[str, ...] = ()

    @property
    def installed(self) -> bool:
        return self.path is not None

    def to_json(self) -> dict[str, object]:
        return {
            "install_path": str(self.path) if self.path else None,
            "found_by": self.source or None,
            "config_dir": str(self.config_dir) if self.config_dir else None,
            "looked_at": list(self.looked_at),
        }


def _is_dir(path: Path) -> bool:
    # Path.is_dir() raises PermissionError for a child of a directory this user cannot search.
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _custom_install_path(ctx: RunContext) -> tuple[Path | None, str]:
    for definition in SERVICE_DEFINITIONS:
        try:
            text = ctx.path(definition).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in _AGENT_PATH.finditer(text):
            candidate = ctx.path(match.group(1))
            if _is_dir(candidate / "agent"):
                return candidate, f"service definition {definition}"
    return None, ""


def _find_installation(ctx: RunContext) -> Installation:
    looked_at: list[str] = []
    config = ctx.path(LINUX_CONFIG)
    config_dir = config if _is_dir(config) else None
    default = ctx.path(LINUX_INSTALL)
    looked_at.append(LINUX_INSTALL)
    if _is_dir(default / "agent"):
        return Installation(default, "default path", config_dir, tuple(looked_at))
    program_files = ctx.environ.get("PROGRAMFILES")
    if program_files:
        windows = Path(program_files, *WINDOWS_INSTALL)
        looked_at.append(str(windows))
        if _is_dir(windows / "agent"):
            return Installation(windows, "PROGRAMFILES", None, tuple(looked_at))
    looked_at.extend(SERVICE_DEFINITIONS)
    custom, source = _custom_install_path(ctx)
    if custom is not None:
        return Installation(custom, source, config_dir, tuple(looked_at))
    return Installation(None, "", config_dir, tuple(looked_at))


def installation(ctx: RunContext) -> Installation:
    """OneAgent's installation, found once per run."""
    return ctx.memo("oneagent.installation", lambda: _find_installation(ctx))


def oneagentctl_path(ctx: RunContext) -> Path | None:
    """``oneagentctl`` under the run's root, on Linux or Windows, also under a custom install path."""
    candidates = [ctx.path(LINUX_TOOLS) / "oneagentctl"]
    program_files = ctx.environ.get("PROGRAMFILES")
    if program_files:
        candidates.append(Path(program_files, *WINDOWS_INSTALL, "agent", "tools", "oneagentctl.exe"))
    found = installation(ctx).path
    if found is not None:
        candidates += [found / "agent" / "tools" / "oneagentctl", found / "agent" / "tools" / "oneagentctl.exe"]
    return next((path for path in candidates if _is_file(path)), None)


def run_oneagentctl(ctx: RunContext, *arguments: str) -> tuple[str | None, str]:
    """Run ``oneagentctl`` with a timeout; (stdout, "") or (None, why not)."""
    tool = oneagentctl_path(ctx)
    if tool is None:
        return None, "oneagentctl not found (OneAgent not installed here?)"
    if not os.access(tool, os.X_OK):
        return None, f"{tool} is not executable by this user (run as root/admin)"
    import subprocess

    try:
        completed = subprocess.run(
            [str(tool), *arguments],
            capture_output=True,
            text=True,
            timeout=ctx.timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"oneagentctl did not answer within {ctx.timeout:g} s"
    except OSError as exc:
        return None, f"cannot run oneagentctl: {exc.strerror or exc}"
    if completed.returncode != 0:
        reason = (completed.stderr or completed.stdout).strip().splitlines()
        return None, f"oneagentctl exited {completed.returncode}" + (f": {reason[-1]}" if reason else "")
    return completed.stdout, ""


def oneagentctl(ctx: RunContext, argument: str) -> tuple[str | None, str]:
    """``run_oneagentctl`` with one argument, run once per run and shared between checks."""
    return ctx.memo(f"oneagentctl {argument}", lambda: run_oneagentctl(ctx, argument))


def _discover(ctx: RunContext) -> EecPort:
    settings = ctx.settings
    if settings.eec_port is not None:
        return EecPort(settings.eec_port, settings.eec_port_source or "--eec-port")
    output, why = oneagentctl(ctx, "--get-extensions-ingest-port")
    if output is not None:
        text = output.strip()
        number = ascii_int(text, 5)
        if number is not None and 1 <= number <= 65535:
            return EecPort(number, "oneagentctl")
        why = f"oneagentctl printed {text[:40]!r}, not a port number"
    return EecPort(DEFAULT_EEC_PORT, "default", why)


def eec_port(ctx: RunContext) -> EecPort:
    """The port, discovered once per run."""
    return ctx.memo("eec_port", lambda: _discover(ctx))


def eec_target(ctx: RunContext) -> str:
    """The result target of everything about the local endpoint: ``127.0.0.1:<port>``."""
    return format_address(EEC_HOST, eec_port(ctx).port)


def relies_on_local_endpoint(ctx: RunContext) -> bool:
    """The user means to send through OneAgent: a port was given, or no environment URL is configured."""
    return ctx.settings.eec_port is not None or ctx.settings.environment is None
