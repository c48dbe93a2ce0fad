"""The result model: statuses, one frozen record per check result, the report.

Checks produce results, the runner collects them into a Report, renderers
present it. Everything here is plain data and JSON-safe.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


class Status(str, enum.Enum):
    """The outcome of one check, ordered from best to worst by ``severity``."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def is_problem(self) -> bool:
        return self in (Status.WARN, Status.FAIL, Status.ERROR)


_SEVERITY = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.FAIL: 3, Status.ERROR: 4}

# The order in which counts are reported.
STATUS_ORDER = (Status.PASS, Status.WARN, Status.FAIL, Status.SKIP, Status.ERROR)


class ExitCode(enum.IntEnum):
    """The Nagios/Icinga plugin codes the contract uses."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


EXIT_MEANING = {
    ExitCode.OK: "everything needed to send events works",
    ExitCode.WARNING: "it works, but something needs attention soon",
    ExitCode.CRITICAL: "events cannot be sent: at least one check failed",
    ExitCode.UNKNOWN: "at least one check could not run, so the verdict is incomplete",
}
NOTHING_CHECKED = "nothing was checked: every check was skipped (each result says why)"


def worst_status(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=lambda status: status.severity, default=Status.PASS)


def overall_status(statuses: Iterable[Status]) -> Status:
    """A run's headline status: the worst, except that skips beside passes still
    make a passing run (a run with no token skips the token checks, and passed).
    Only a run where nothing passed and nothing went wrong is a skip."""
    seen = list(statuses)
    if not seen:
        return Status.SKIP
    worst = worst_status(seen)
    if worst is Status.SKIP and Status.PASS in seen:
        return Status.PASS
    return worst


def exit_meaning(status: Status, code: ExitCode) -> str:
    """What an exit code says of a run or a fleet; one where every check was skipped proved nothing."""
    return NOTHING_CHECKED if status is Status.SKIP and code is ExitCode.OK else EXIT_MEANING[code]


def exit_code_for(status: Status, warn_ok: bool = False) -> ExitCode:
    if status is Status.ERROR:
        return ExitCode.UNKNOWN
    if status is Status.FAIL:
        return ExitCode.CRITICAL
    if status is Status.WARN and not warn_ok:
        return ExitCode.WARNING
    return ExitCode.OK


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict on one target.

    Attributes:
        id: the check family, e.g. ``tcp`` or ``config.url``.
        target: what was looked at: ``host:port``, a host, ``local`` or ``-``.
        title: the check's human title.
        status: the verdict.
        code: stable machine-readable cause, e.g. ``tcp.timeout``.
        summary: one line for a human.
        remediation: what to do about it; empty when nothing needs doing.
        details: JSON-safe evidence.
        duration_ms: how long the probe took.
        depends_on: ids of the checks this one needed.
        started_ms: when the probe started, in ms since the run started.
        traceback: the text of a crash, for ``error`` results only.
    """

    id: str
    target: str
    title: str
    status: Status
    code: str
    summary: str
    remediation: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: int = 0
    depends_on: tuple[str, ...] = ()
    started_ms: int = 0
    traceback: str = ""

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "target": self.target,
            "title": self.title,
            "status": self.status.value,
            "code": self.code,
            "summary": self.summary,
            "remediation": self.remediation,
            "details": dict(self.details),
            "duration_ms": self.duration_ms,
            "depends_on": list(self.depends_on),
            "started_ms": self.started_ms,
        }
        if self.traceback:
            data["traceback"] = self.traceback
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            id=str(data["id"]),
            target=str(data.get("target", "-")),
            title=str(data.get("title", data["id"])),
            status=Status(data["status"]),
            code=str(data["code"]),
            summary=str(data.get("summary", "")),
            remediation=str(data.get("remediation", "")),
            details=dict(data.get("details") or {}),
            duration_ms=int(data.get("duration_ms") or 0),
            depends_on=tuple(data.get("depends_on") or ()),
            started_ms=int(data.get("started_ms") or 0),
            traceback=str(data.get("traceback", "")),
        )


SCHEMA = "dtdoctor.report/v1"


@dataclass(frozen=True)
class Report:
    """Everything one run found, ready for any renderer.

    ``config`` is already redacted; ``host`` holds host facts.
    """

    tool_version: str
    generated_at: str
    duration_ms: int
    host: Mapping[str, Any]
    config: Mapping[str, Any]
    checks: tuple[CheckResult, ...]
    warn_ok: bool = False

    @property
    def status(self) -> Status:
        return overall_status(result.status for result in self.checks)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_for(self.status, self.warn_ok)

    @property
    def exit_meaning(self) -> str:
        return exit_meaning(self.status, self.exit_code)

    @property
    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in STATUS_ORDER}
        for result in self.checks:
            counts[result.status.value] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool": {"name": "dtdoctor", "version": self.tool_version},
            "generated_at": self.generated_at,
            "duration_ms": self.duration_ms,
            "host": dict(self.host),
            "config": dict(self.config),
            "status": self.status.value,
            "exit_code": int(self.exit_code),
            "counts": self.counts,
            "checks": [result.to_json() for result in self.checks],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        # --warn-ok is not stored as such: a warn report that exited 0 had it.
        warn_ok = data.get("status") == Status.WARN.value and data.get("exit_code") == 0
        return cls(
            tool_version=str((data.get("tool") or {}).get("version", "")),
            generated_at=str(data.get("generated_at", "")),
            duration_ms=int(data.get("duration_ms") or 0),
            host=dict(data.get("host") or {}),
            config=dict(data.get("config") or {}),
            checks=tuple(CheckResult.from_json(item) for item in data.get("checks") or ()),
            warn_ok=warn_ok,
        )
