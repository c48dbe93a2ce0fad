"""Nagios/Icinga plugin output: one status line with perfdata, then the problems.

``DTDOCTOR CRITICAL - <one line> | <perfdata>``: the first word after
DTDOCTOR matches the exit code (the contract's codes are the plugin codes),
the perfdata follows the plugin guidelines
(``'label'=value[UOM];[warn];[crit];[min];[max]``). Further lines are the
plugin's long output: one line per problem with its code and remediation.
"""

from __future__ import annotations

import datetime as dt
import re

from dtdoctor.core.model import CheckResult, ExitCode, Report, Status, parse_utc
from dtdoctor.render import RenderOptions
from dtdoctor.render.evidence import days_to_expiry, latency_ms

SERVICE = "DTDOCTOR"
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_.\-]+")
# A '|' in plugin text starts perfdata, a newline ends the status line, other control characters garble it.
_PLUGIN_TEXT_BREAKERS = re.compile(r"[|\x00-\x1f\x7f]+")
_PROBLEM_ORDER = (Status.ERROR, Status.FAIL, Status.WARN)
_FIRST_LINE_PROBLEMS = 3
# Nagios turns ';' in plugin output into ':' (';' separates the fields of its log and
# external commands), so the problems on the first line are separated by ' / '.
_PROBLEM_SEPARATOR = " / "
# Families that only read settings: their duration is no latency worth graphing.
_NO_LATENCY_FAMILIES = ("config",)
_FORMAT_OPTIONS = ("-f", "--format")


def plugin_text(text: str) -> str:
    """One line Nagios shows as written: no perfdata bar, no line break, ';' (Nagios makes it ':') as ','."""
    return " ".join(_PLUGIN_TEXT_BREAKERS.sub(" ", text).replace(";", ",").split())


def perf_label(text: str) -> str:
    """A label of letters, digits, ``_ . -`` only, so no quote or ``=`` can break the line."""
    return _UNSAFE_LABEL.sub("_", text).strip("_") or "check"


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0").rstrip(".")


def describe(result: CheckResult) -> str:
    where = "" if result.target in ("-", "local") else f" {result.target}"
    return plugin_text(f"{result.id}{where}: {result.summary}")


def status_line(report: Report) -> str:
    counts = report.counts
    problems = [r for status in _PROBLEM_ORDER for r in report.checks if r.status is status]
    if not problems:
        skipped = f" ({counts['skip']} skipped)" if counts["skip"] else ""
        return f"{counts['pass']} of {len(report.checks)} checks passed{skipped}"
    tally = ", ".join(
        f"{counts[status.value]} {label}"
        for status, label in ((Status.ERROR, "error"), (Status.FAIL, "failed"), (Status.WARN, "warning"))
        if counts[status.value]
    )
    shown = _PROBLEM_SEPARATOR.join(describe(result) for result in problems[:_FIRST_LINE_PROBLEMS])
    hidden = len(problems) - _FIRST_LINE_PROBLEMS
    more = f"{_PROBLEM_SEPARATOR}and {hidden} more" if hidden > 0 else ""
    return f"{tally}: {shown}{more}"


def has_latency(result: CheckResult) -> bool:
    """Probes that went to the network; skipped ones measured nothing, settings take no time to reach."""
    return result.status is not Status.SKIP and result.family not in _NO_LATENCY_FAMILIES and result.target != "local"


def capped(value: float, limit: float | None) -> float:
    """A probe that ran into its timeout waited for the timeout: the perfdata's max, not a few ms past it."""
    return value if limit is None else min(value, limit)


class _Perfdata:
    """Perfdata items in order, each label made safe and unique."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.used: set[str] = set()

    def add(self, label: str, value: float, uom: str = "", warn: str = "", crit: str = "", low: str = "",
            high: str = "") -> None:
        safe = perf_label(label)
        unique, n = safe, 2
        while unique in self.used:
            unique, n = f"{safe}_{n}", n + 1
        self.used.add(unique)
        thresholds = ";".join((warn, crit, low, high)).rstrip(";")
        self.items.append(f"'{unique}'={number(value)}{uom}" + (f";{thresholds}" if thresholds else ""))


def perfdata(report: Report) -> list[str]:
    data = _Perfdata()
    for status, count in report.counts.items():
        data.add(status, count, low="0", high=str(len(report.checks)))
    data.add("duration", report.duration_ms, "ms", low="0")
    _latencies(data, report)
    _expiries(data, report)
    return data.items


def _latencies(data: _Perfdata, report: Report) -> None:
    """One latency per probe that went to the network, capped at the timeout, which is its max."""
    timeout = report.config.get("timeout_s")
    timeout_ms = float(timeout) * 1000 if isinstance(timeout, (int, float)) and timeout > 0 else None
    high = "" if timeout_ms is None else number(timeout_ms)
    for result in report.checks:
        if has_latency(result):
            data.add(f"{result.id} {result.target} latency", capped(latency_ms(result), timeout_ms), "ms", low="0",
                     high=high)


def _expiries(data: _Perfdata, report: Report) -> None:
    """Days left of everything that expires, warning at the run's expiry threshold, critical once expired."""
    warn_days = report.config.get("expiry_warn_days")
    warn = f"{number(float(warn_days))}:" if isinstance(warn_days, (int, float)) else ""
    now = parse_utc(report.generated_at) or dt.datetime.now(dt.timezone.utc)
    for result in report.checks:
        expiring = result.evidence.expires_at()
        if expiring is not None:
            kind, moment = expiring
            data.add(f"{result.id} {result.target} {kind} days", days_to_expiry(moment, now), warn=warn, crit="0:")


def render(report: Report, options: RenderOptions) -> str:
    state = report.exit_code.name
    lines = [f"{SERVICE} {state} - {status_line(report)} | {' '.join(perfdata(report))}"]
    for status in _PROBLEM_ORDER:
        for result in report.checks:
            if result.status is status:
                line = f"{status.value.upper()} {describe(result)} [{plugin_text(result.code)}]"
                if result.remediation:
                    line += f" -> {plugin_text(result.remediation)}"
                lines.append(line)
    return "\n".join(lines) + "\n"


def asked_for(argv: list[str]) -> bool:
    """Whether a command line asks for Nagios output (``-f nagios``, ``-fnagios``, ``--format=nagios``)."""
    for index, arg in enumerate(argv):
        if arg == "--":
            return False
        if arg in _FORMAT_OPTIONS and argv[index + 1:index + 2] == ["nagios"]:
            return True
        if arg in ("-fnagios", "--format=nagios"):
            return True
    return False


def usage_error(message: str) -> str:
    """The plugin line for a run that never started: UNKNOWN, the reason, no perfdata."""
    return f"{SERVICE} {ExitCode.UNKNOWN.name} - {plugin_text(message)}\n"
