"""Host reports for fleet tests: written as the JSON files ``dtdoctor check`` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import Result

from dtdoctor.cli import cli
from dtdoctor.core.model import CheckResult, Evidence, Status
from tests.support.cli import cli_runner
from tests.support.factories import report, result


def host_report(hostname: str, *results: CheckResult, generated_at: str = "2026-11-22T10:00:00Z") -> dict[str, Any]:
    """A report as JSON data; without results the host passes one TCP check."""
    chosen = results or (result(),)
    data = report(*chosen, generated_at=generated_at,
                  host={"hostname": hostname, "os": "Linux 6.1", "python": "3.11.7", "container": None}).to_json()
    return data


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def problem(code: str, status: Status = Status.FAIL, target: str = "abc12345.live.dynatrace.com:443",
            evidence: Evidence | None = None, **details: Any) -> CheckResult:
    family = code.split(".", 1)[0]
    return result(check_id=family, target=target, status=status, code=code, summary=f"{code} on {target}",
                  details=details, evidence=evidence or Evidence())


def real_check_report(path: Path, environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the installed CLI for real (``python -m dtdoctor check -f json``) and keep its report."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DT_")}
    env.update(environ or {})
    # Only the remote pipeline: the local checks' verdict depends on the machine
    # running the tests (a container fails the local endpoint check).
    command = [sys.executable, "-m", "dtdoctor", "check", "-f", "json", "--timeout", "0.5", "--only", "config,dns,tcp"]
    completed = subprocess.run(command,
                               capture_output=True, text=True, env=env, timeout=60, check=False)
    assert completed.returncode in (0, 1, 2, 3), completed.stderr
    data = json.loads(completed.stdout)
    write_json(path, data)
    return data


def run_cli(*args: str) -> Result:
    """Run ``dtdoctor`` in-process, stdout and stderr apart."""
    return cli_runner().invoke(cli, list(args), prog_name="dtdoctor")
