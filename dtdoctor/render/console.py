"""The console report: grouped by family, a line per result, remediation under problems."""

from __future__ import annotations

import json
import re
from typing import Any

from dtdoctor.core.model import CheckResult, Report, Status
from dtdoctor.render import RenderOptions

SYMBOLS = {
    Status.PASS: ("✔", "OK"),
    Status.WARN: ("⚠", "!!"),
    Status.FAIL: ("✖", "XX"),
    Status.SKIP: ("○", "--"),
    Status.ERROR: ("‼", "??"),
}
_COLORS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.SKIP: "90", Status.ERROR: "35"}


# Control characters (and bidirectional overrides) in text from servers and certificates: a subject name
# with ESC sequences would otherwise retitle the terminal, clear it or forge report lines.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), never acted on."""
    return _UNPRINTABLE.sub(lambda match: f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100
                            else f"\\u{ord(match.group()):04x}", str(text))


def paint(text: str, code: str, options: RenderOptions) -> str:
    return f"\033[{code}m{text}\033[0m" if options.color else text


def symbol(status: Status, options: RenderOptions) -> str:
    unicode_symbol, ascii_symbol = SYMBOLS[status]
    return paint(unicode_symbol if options.unicode else ascii_symbol, _COLORS[status], options)


def families(report: Report) -> dict[str, list[CheckResult]]:
    grouped: dict[str, list[CheckResult]] = {}
    for result in report.checks:
        grouped.setdefault(result.family, []).append(result)
    return grouped


def _detail_lines(details: Any, indent: str) -> list[str]:
    lines: list[str] = []
    if not isinstance(details, dict):
        return [indent + printable(details)]
    for raw_key, value in details.items():
        key = printable(raw_key)
        if isinstance(value, (dict, list)) and value:
            text = printable(json.dumps(value, ensure_ascii=False, default=str))
            if len(text) <= 100:
                lines.append(f"{indent}{key}: {text}")
            elif isinstance(value, dict):
                lines.append(f"{indent}{key}:")
                lines.extend(_detail_lines(value, indent + "  "))
            else:
                lines.append(f"{indent}{key}:")
                for item in value:
                    lines.append(f"{indent}  - {printable(json.dumps(item, ensure_ascii=False, default=str))}")
        else:
            lines.append(f"{indent}{key}: {printable(value)}")
    return lines


def result_lines(result: CheckResult, options: RenderOptions) -> list[str]:
    label = result.id if result.target in ("-", "local") else f"{result.id} {result.target}"
    line = f"  {symbol(result.status, options)} {printable(label)}: {printable(result.summary)}"
    if result.status is not Status.PASS or options.verbosity > 0:
        line += paint(f"  [{result.code}]", "90", options)
    lines = [line]
    if result.remediation and (result.status.is_problem or options.verbosity > 0):
        arrow = "→" if options.unicode else "->"
        lines.append(f"      {arrow} {printable(result.remediation)}")
    if options.verbosity > 0 and result.details:
        lines.extend(_detail_lines(dict(result.details), "      "))
    return lines


# Skips that only repeat what a config check already said: shown once, together.
_UNCONFIGURED = {"url.missing": "config.url", "token.missing": "config.token"}


def unconfigured(results: tuple[CheckResult, ...]) -> dict[str, list[CheckResult]]:
    """Per missing setting, the other checks skipped for its lack."""
    found: dict[str, list[CheckResult]] = {}
    for result in results:
        owner = _UNCONFIGURED.get(result.code)
        if owner is not None and result.id != owner and result.status is Status.SKIP:
            found.setdefault(result.code, []).append(result)
    return found


def family_lines(report: Report, options: RenderOptions, hidden: set[int]) -> list[str]:
    """Each family's heading and the lines of its shown results (quiet: problems only)."""
    lines: list[str] = []
    for family, results in families(report).items():
        shown = [r for r in results if (options.verbosity >= 0 or r.status.is_problem) and id(r) not in hidden]
        if shown:
            lines.append(paint(family, "1", options))
            lines.extend(line for result in shown for line in result_lines(result, options))
            lines.append("")
    return lines


def body_lines(report: Report, options: RenderOptions) -> list[str]:
    """The results by family; skips that repeat a missing setting folded into one line each."""
    folded = unconfigured(report.checks) if options.verbosity == 0 else {}
    lines = family_lines(report, options, {id(result) for group in folded.values() for result in group})
    for code, group in folded.items():
        names = ", ".join(dict.fromkeys(result.id for result in group))
        lines += [f"{symbol(Status.SKIP, options)} also skipped for the same reason ({code}): {names}", ""]
    if options.verbosity < 0 and not any(r.status.is_problem for r in report.checks):
        lines.append("no problems found")
    return lines


def footer_lines(report: Report, options: RenderOptions) -> list[str]:
    """The tally and the verdict with its exit code."""
    counts = report.counts
    tally = ", ".join(f"{counts[name]} {name}" for name in counts)
    verdict = f"exit {int(report.exit_code)}: {report.exit_meaning}"
    if report.warn_ok and report.status is Status.WARN:
        verdict += " (warnings accepted with --warn-ok)"
    return [
        f"{len(report.checks)} checks: {tally} · {report.duration_ms / 1000:.2f} s",
        paint(verdict, _COLORS.get(report.status, "0"), options),
    ]


def render(report: Report, options: RenderOptions) -> str:
    host = printable(report.host.get("hostname", ""))
    header = paint(f"dtdoctor {report.tool_version} · {host} · {report.generated_at}", "1", options)
    lines = [header, "", *body_lines(report, options), *footer_lines(report, options)]
    text = "\n".join(lines) + "\n"
    # Without Unicode every separator, the header's too, is an ASCII dash.
    return text if options.unicode else text.replace("·", "-")
