"""Prometheus exposition text for node_exporter's textfile collector.

Write it with ``-o /var/lib/node_exporter/textfile/dtdoctor.prom``: report
files are written to a temporary file and renamed, so the collector never
reads half a file. The metric names and the status mapping are part of the
interface (docs/reports.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from dtdoctor.core.model import STATUS_ORDER, CheckResult, Report, Status, parse_utc
from dtdoctor.render import RenderOptions
from dtdoctor.render.evidence import latency_ms

# dtdoctor_check_status values: the Nagios codes for the problems, so
# ``dtdoctor_check_status >= 2`` alerts on failures and errors; skip is -1
# so ``> 0`` means "needs attention".
STATUS_VALUE = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 3, Status.SKIP: -1}


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def labels(**values: str) -> str:
    return "{" + ",".join(f'{name}="{escape_label(value)}"' for name, value in values.items()) + "}"


def number(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class Exposition:
    """Collects metric families; each family's HELP and TYPE come once, before its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str, samples: Iterable[tuple[str, float]]) -> None:
        unique: dict[str, float] = {}
        for label_text, value in samples:
            unique.setdefault(label_text, value)  # a repeated series would make the file unreadable
        if not unique:
            return
        self.lines.append(f"# HELP {name} {escape_help(help_text)}")
        self.lines.append(f"# TYPE {name} gauge")
        self.lines.extend(f"{name}{label_text} {number(value)}" for label_text, value in unique.items())

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def check_families(out: Exposition, checks: tuple[CheckResult, ...]) -> None:
    """Per result. The status series has only ``id`` and ``target`` labels, so a check that goes
    from pass to fail (or changes code) keeps its series and an alert's ``for:`` keeps counting;
    the code is in ``dtdoctor_check_info``."""
    out.family(
        "dtdoctor_check_status",
        "Result of one check on one target: 0 pass, 1 warn, 2 fail, 3 error, -1 skip.",
        ((labels(id=r.id, target=r.target), STATUS_VALUE[r.status]) for r in checks),
    )
    out.family(
        "dtdoctor_check_info",
        "The result code of one check on one target in the last run (always 1).",
        ((labels(id=r.id, target=r.target, code=r.code), 1) for r in checks),
    )
    out.family(
        "dtdoctor_check_duration_seconds",
        "How long the probe of one check on one target took.",
        ((labels(id=r.id, target=r.target), r.duration_ms / 1000) for r in checks if r.status is not Status.SKIP),
    )
    out.family(
        "dtdoctor_check_latency_seconds",
        "Latency the probe measured (lookup, connect, handshake, HTTP round trip).",
        ((labels(id=r.id, target=r.target), latency_ms(r) / 1000) for r in checks if r.evidence.latency_ms is not None),
    )
    for kind in ("certificate", "token"):
        out.family(
            f"dtdoctor_{kind}_expiry_timestamp_seconds",
            f"When the {kind} expires, as a Unix timestamp.",
            ((labels(id=r.id, target=r.target), moment.timestamp()) for r, moment in expiries(checks, kind)),
        )


def expiries(checks: tuple[CheckResult, ...], kind: str) -> list[tuple[CheckResult, dt.datetime]]:
    """The results that measured when a ``certificate`` or ``token`` expires, with that moment."""
    found = []
    for result in checks:
        expiring = result.evidence.expires_at()
        if expiring is not None and expiring[0] == kind:
            found.append((result, expiring[1]))
    return found


def run_families(out: Exposition, report: Report) -> None:
    """Per run: counts, verdict, exit code, when and how long, who wrote it."""
    out.family(
        "dtdoctor_checks",
        "Number of results with each status in the last run.",
        ((labels(status=status.value), report.counts[status.value]) for status in STATUS_ORDER),
    )
    out.family(
        "dtdoctor_status",
        "Verdict of the last run: 0 pass, 1 warn, 2 fail, 3 error, -1 nothing could be checked.",
        [("", STATUS_VALUE[report.status])],
    )
    out.family("dtdoctor_exit_code", "Exit code of the last run (0 ok, 1 warning, 2 critical, 3 unknown).",
               [("", int(report.exit_code))])
    started = parse_utc(report.generated_at)
    if started is not None:
        out.family("dtdoctor_last_run_timestamp_seconds", "When the last run started, as a Unix timestamp.",
                   [("", started.timestamp())])
    out.family("dtdoctor_run_duration_seconds", "How long the last run took.", [("", report.duration_ms / 1000)])
    out.family(
        "dtdoctor_info",
        "The dtdoctor version and host that wrote these metrics.",
        [(labels(version=report.tool_version, hostname=str(report.host.get("hostname") or "")), 1)],
    )


def render(report: Report, options: RenderOptions) -> str:
    out = Exposition()
    check_families(out, report.checks)
    run_families(out, report)
    return out.text()
