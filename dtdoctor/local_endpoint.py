"""Where OneAgent's local ingest endpoint (the EEC) should listen on this host.

The port comes from ``--eec-port``/``DT_EEC_PORT``, else from OneAgent's own
configuration (``oneagentctl --get-extensions-ingest-port``), else the
documented default 14499. The endpoint is bound to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dtdoctor.config import DEFAULT_EEC_PORT, format_address
from dtdoctor.context import RunContext

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


def oneagentctl_path(ctx: RunContext) -> Path | None:
    """``oneagentctl`` under the run's root, on Linux or Windows."""
    candidates = [ctx.path(LINUX_TOOLS) / "oneagentctl"]
    program_files = ctx.environ.get("PROGRAMFILES")
    if program_files:
        candidates.append(Path(program_files) / WINDOWS_TOOLS / "oneagentctl.exe")
    return next((path for path in candidates if path.is_file()), None)


def run_oneagentctl(ctx: RunContext, *arguments: str) -> tuple[str | None, str]:
    """Run ``oneagentctl`` with a timeout; (stdout, "") or (None, why not)."""
    tool = oneagentctl_path(ctx)
    if tool is None:
        return None, "oneagentctl not found (OneAgent not installed here?)"
    if not os.access(tool, os.X_OK):
        return None, f"{tool} is not executable by this user (run as root/admin)"
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


def _discover(ctx: RunContext) -> EecPort:
    settings = ctx.settings
    if settings.eec_port is not None:
        return EecPort(settings.eec_port, settings.eec_port_source or "--eec-port")
    output, why = run_oneagentctl(ctx, "--get-extensions-ingest-port")
    if output is not None:
        text = output.strip()
        if text.isdigit() and 1 <= int(text) <= 65535:
            return EecPort(int(text), "oneagentctl")
        why = f"oneagentctl printed {text[:40]!r}, not a port number"
    return EecPort(DEFAULT_EEC_PORT, "default", why)


def eec_port(ctx: RunContext) -> EecPort:
    """The port, discovered once per run."""
    return ctx.memo("eec_port", lambda: _discover(ctx))


def eec_target(ctx: RunContext) -> str:
    """The result target of everything about the local endpoint: ``127.0.0.1:<port>``."""
    return format_address(EEC_HOST, eec_port(ctx).port)
