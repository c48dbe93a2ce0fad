"""Helpers for report tests: hostile content and running the CLI in-process."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from typing import Sequence

from dtdoctor.core.model import CheckResult, Evidence, Report, Status
from tests.support.factories import report, result

# What a hostile or broken server or certificate could put into a report.
HOSTILE = '<script>alert("x")</script> & \' " | = \\ \n next line \x00\x07 ☃'


def hostile_report() -> Report:
    checks: list[CheckResult] = [
        result("tls", f"evil{HOSTILE}:443", Status.FAIL, "tls.untrusted_root", f"chain ends at {HOSTILE}",
               remediation=f"trust {HOSTILE}", started_ms=3, duration_ms=40,
               details={"chain": [{"subject": f"CN={HOSTILE}", "issuer": "CN=<b>bold</b>"}],
                        f"key{HOSTILE}": {"nested": [HOSTILE, 1, None, True]},
                        "days_to_expiry": 3, "expiry": "2026-11-25T10:00:00Z", "latency_ms": 12},
               evidence=Evidence(latency_ms=12, certificate_issuer="CN=<b>bold</b>", certificate_root=f"CN={HOSTILE}",
                                 certificate_expires_at="2026-11-25T10:00:00Z", error=HOSTILE)),
        result("api", "abc12345.live.dynatrace.com", Status.ERROR, "check.crashed",
               f"the check crashed: ValueError: {HOSTILE}", traceback=f"Traceback ...\nValueError: {HOSTILE}\n",
               started_ms=50, duration_ms=7),
        result("token", "abc12345.live.dynatrace.com", Status.WARN, "token.expiring_soon", "expires in 3 days",
               details={"expiry": "2026-11-25T10:00:00Z", "name": HOSTILE}, started_ms=60, duration_ms=20,
               evidence=Evidence(token_expires_at="2026-11-25T10:00:00Z", proxy=f"http://{HOSTILE}:3128")),
        result("proxy", "-", Status.SKIP, "proxy.none", "no proxy"),
    ]
    return report(*checks, host={"hostname": f"host{HOSTILE}", "os": "Linux"},
                  config={"url": f"https://x/{HOSTILE}", "token": None, "scopes": ["events.ingest"], "timeout_s": 5,
                          "expiry_warn_days": 14})


@dataclass
class CliRun:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: Sequence[str]) -> CliRun:
    """``dtdoctor ARGS`` in this process, through the real top-level handler and its redacting streams."""
    from dtdoctor.cli import cli

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        try:
            cli.main(args=list(args), prog_name="dtdoctor")
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
    finally:
        sys.stdout, sys.stderr = saved
    return CliRun(code, out.getvalue(), err.getvalue())
