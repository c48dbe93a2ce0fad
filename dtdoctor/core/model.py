"""The result model: statuses, one frozen record per check result, the report.

Checks produce results, the runner collects them into a Report, renderers
present it. Everything here is plain data and JSON-safe.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from dataclasses import dataclass, field, fields
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
# A passing run that lacked part of its configuration proved less than "everything works".
UNCHECKED_FOR_WANT_OF = {
    "url.missing": "no environment URL was given, so only this host's local endpoint was checked",
    "token.missing": "no API token was given, so the token and the events API were not checked",
}


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


ROUTES = ("direct", "proxy")


def utc_timestamp(moment: dt.datetime) -> str:
    """A moment as the reports write it: ISO 8601 in UTC, whole seconds, ``Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: object) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC) as an aware datetime, else None."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    # Python 3.9's fromisoformat wants exactly 0, 3 or 6 fraction digits.
    value = re.sub(r"(\.\d{1,6})\d*", lambda match: match.group(1).ljust(7, "0"), value, count=1)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Evidence:
    """The typed facts of a result that renderers, the fleet view and scripts read.

    Free-form ``details`` are for people; these fields have one name and one
    meaning in every check (docs/reports.md). A field a check did not measure
    is None (or empty) and left out of the JSON.

    Attributes:
        latency_ms: the latency the probe measured (a TCP connect, a handshake, an HTTP round trip).
        http_status: the HTTP status the endpoint answered (or the proxy, for a refused CONNECT).
        route: ``direct`` or ``proxy``: how the probe reached its target.
        proxy: the proxy used, as ``scheme://host:port`` (credentials never shown).
        certificate_issuer: the issuer (RFC 4514) of the server's certificate.
        certificate_root: the name at the top of the chain the server presented.
        certificate_expires_at: when the server's certificate expires, ISO 8601 UTC.
        token_expires_at: when the API token expires, ISO 8601 UTC.
        missing_scopes: the required token scopes the token lacks.
        error: the low-level error behind a failure (``ECONNREFUSED``, a TLS reason).
    """

    latency_ms: float | None = None
    http_status: int | None = None
    route: str | None = None
    proxy: str | None = None
    certificate_issuer: str | None = None
    certificate_root: str | None = None
    certificate_expires_at: str | None = None
    token_expires_at: str | None = None
    missing_scopes: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or value == ():
                continue
            data[item.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_json(cls, data: object) -> Evidence:
        """Read the typed fields; a value of the wrong type is left out, never trusted."""
        if not isinstance(data, dict):
            return cls()
        scopes = data.get("missing_scopes")
        return cls(
            latency_ms=_finite(data.get("latency_ms")),
            http_status=_http_status(data.get("http_status")),
            route=data.get("route") if data.get("route") in ROUTES else None,
            proxy=_text(data.get("proxy")),
            certificate_issuer=_text(data.get("certificate_issuer")),
            certificate_root=_text(data.get("certificate_root")),
            certificate_expires_at=_timestamp(data.get("certificate_expires_at")),
            token_expires_at=_timestamp(data.get("token_expires_at")),
            missing_scopes=tuple(str(s) for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
            error=_text(data.get("error")),
        )

    def merged(self, other: Evidence) -> Evidence:
        """These facts, with the ones this lacks taken from ``other``."""
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        return Evidence(**{
            name: value if value not in (None, ()) else getattr(other, name) for name, value in values.items()
        })

    def expires_at(self) -> tuple[str, dt.datetime] | None:
        """What expires (``certificate`` or ``token``) and when, if the result measured an expiry."""
        for kind, text in (("certificate", self.certificate_expires_at), ("token", self.token_expires_at)):
            moment = parse_utc(text)
            if moment is not None:
                return kind, moment
        return None


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def _http_status(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599 else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _timestamp(value: object) -> str | None:
    moment = parse_utc(value)
    return utc_timestamp(moment) if moment is not None else None


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
        details: free-form JSON-safe evidence, for people.
        evidence: the typed facts renderers and the fleet view read.
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
    evidence: Evidence = field(default_factory=Evidence)

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
            "evidence": self.evidence.to_json(),
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
            evidence=Evidence.from_json(data.get("evidence")),
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
        meaning = exit_meaning(self.status, self.exit_code)
        if self.exit_code is not ExitCode.OK or self.status is Status.SKIP:
            return meaning
        wanting = [UNCHECKED_FOR_WANT_OF[r.code] for r in self.checks if r.code in UNCHECKED_FOR_WANT_OF]
        return f"nothing failed, but {'; '.join(dict.fromkeys(wanting))}" if wanting else meaning

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
