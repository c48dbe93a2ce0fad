"""Factories for settings, run contexts, results and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dtdoctor.config import Settings, load_settings
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult, Report, Status

CANARY_PUBLIC = "CANARYPUBLIC000000000000"
CANARY_SECRET = "CANARYSECRET" + "7" * 40 + "ZZZZSECRETZZ"
CANARY_TOKEN = f"dt0c01.{CANARY_PUBLIC}.{CANARY_SECRET}"
assert len(CANARY_PUBLIC) == 24 and len(CANARY_SECRET) == 64


def settings(environ: dict[str, str] | None = None, **options: Any) -> Settings:
    """Settings as the CLI would build them; keyword arguments are the CLI options."""
    values: dict[str, Any] = {
        "url": None,
        "activegates": (),
        "token_file": None,
        "scopes": (),
        "eec_port": None,
        "ca_bundle": None,
        "proxy": None,
        "timeout": None,
        "expiry_warn_days": 14,
        "send_test_event": False,
    }
    values.update(options)
    return load_settings(environ=environ or {}, **values)


def context(environ: dict[str, str] | None = None, root: Path | None = None, **options: Any) -> RunContext:
    env = environ or {}
    return RunContext(settings(env, **options), env, root or Path("/"))


def result(
    check_id: str = "tcp",
    target: str = "abc12345.live.dynatrace.com:443",
    status: Status = Status.PASS,
    code: str = "tcp.open",
    summary: str = "connected",
    **extra: Any,
) -> CheckResult:
    return CheckResult(id=check_id, target=target, title=check_id.upper(), status=status, code=code,
                       summary=summary, **extra)


def report(*results: CheckResult, **extra: Any) -> Report:
    values: dict[str, Any] = {
        "tool_version": "1.0.0",
        "generated_at": "2026-11-22T10:00:00Z",
        "duration_ms": 412,
        "host": {"hostname": "web-01", "os": "Linux 6.1", "python": "3.11.7", "container": None},
        "config": {"url": "https://abc12345.live.dynatrace.com", "token": None, "scopes": ["events.ingest"],
                   "timeout_s": 5},
        "checks": tuple(results),
    }
    values.update(extra)
    return Report(**values)
