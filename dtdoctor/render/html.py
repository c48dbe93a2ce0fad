"""The HTML report: one self-contained page for a support ticket or a browser with no network.

Everything is inline (the stylesheet from ``templates/report.css``, the
timeline as SVG); there are no scripts, fonts, images or links to fetch.
Jinja2 renders it with autoescaping on, so every string that came from a
server or a certificate is escaped. jinja2 is imported only here, and this
module only when HTML is asked for.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from dtdoctor.core.model import STATUS_ORDER, CheckResult, Report, Status, worst_status
from dtdoctor.render import RenderOptions

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")
# Control characters (but tab and line breaks) and bidirectional overrides in text from servers,
# certificates or a merged report: autoescaping leaves them, a page must show them, not carry them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
STYLESHEET = "report.css"

HEADLINES = {
    Status.PASS: "Ready to send events",
    Status.SKIP: "Nothing could be checked",
    Status.WARN: "Works, with warnings",
    Status.FAIL: "Events cannot be sent",
    Status.ERROR: "The verdict is incomplete",
}
CONFIG_LABELS = {
    "url": "Environment URL",
    "token": "API token",
    "scopes": "Required scopes",
    "timeout_s": "Timeout per probe (s)",
    "activegates": "ActiveGates",
    "eec_port": "Local ingest port",
    "proxy": "Proxy",
    "proxy_source": "Proxy set by",
    "ca_bundle": "Extra CA bundle",
    "expiry_warn_days": "Expiry warning (days)",
    "send_test_event": "Send test event",
}


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One compiled environment per process: compiling the template is most of a first render."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its name: the content comes from servers
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=visible,
    )
    env.globals["table_columns"] = table_columns
    env.filters["fact"] = fact
    return env


def visible(value: Any) -> Any:
    """What a template prints: text with its control characters as escapes (``\\x1b``); markup as it is."""
    import markupsafe

    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        from dtdoctor.render.console import printable

        return _CONTROL.sub(lambda match: printable(match.group()), value)
    return value


@functools.lru_cache(maxsize=1)
def stylesheet() -> str:
    return (TEMPLATES / STYLESHEET).read_text(encoding="utf-8")


def fact(value: Any) -> str:
    """A configuration or host value as a reader wants it."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return str(value)


def table_columns(items: Sequence[Any]) -> list[str] | None:
    """Columns for a list of flat mappings (a certificate chain), or None if it is not one."""
    if not items or not all(isinstance(item, Mapping) for item in items):
        return None
    columns: list[str] = []
    for item in items:
        for key, value in item.items():
            if isinstance(value, Mapping):
                return None
            if key not in columns:
                columns.append(str(key))
    return columns if len(columns) <= 9 else None


def duration_text(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.2f} s"


@dataclass(frozen=True)
class TimelineRow:
    label: str
    full_label: str
    status: str
    y: float
    x: float
    width: float
    duration: str
    slowest: bool
    text_x: float
    text_anchor: str
    placement: str
    anchor: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    bar_left: int
    bar_right: int
    row_height: int
    top: int
    ticks: list[tuple[float, str]]
    rows: list[TimelineRow]


def nice_step(total: float, wanted_ticks: int = 6) -> float:
    raw = max(total, 1.0) / wanted_ticks
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_TIMELINE_WIDTH, _BAR_LEFT, _BAR_RIGHT, _ROW_HEIGHT, _TOP = 960, 290, 890, 20, 26


def timeline(results: Sequence[tuple[str, CheckResult]], run_ms: int) -> Timeline | None:
    """Bars from each probe's start to its end on one time axis: overlap is concurrency."""
    if not results:
        return None
    total = max([run_ms] + [r.started_ms + r.duration_ms for _, r in results]) or 1
    scale = (_BAR_RIGHT - _BAR_LEFT) / total
    slowest = max(results, key=lambda item: item[1].duration_ms)[1]
    ordered = sorted(results, key=lambda item: (item[1].started_ms, item[1].started_ms + item[1].duration_ms))
    rows = [
        _timeline_row(anchor, result, _TOP + index * _ROW_HEIGHT, scale, result is slowest)
        for index, (anchor, result) in enumerate(ordered)
    ]
    return Timeline(
        _TIMELINE_WIDTH,
        _TOP + len(rows) * _ROW_HEIGHT + 8,
        _BAR_LEFT,
        _BAR_RIGHT,
        _ROW_HEIGHT,
        _TOP,
        _ticks(total, scale),
        rows,
    )


def _timeline_row(anchor: str, result: CheckResult, y: int, scale: float, slowest: bool) -> TimelineRow:
    x = _BAR_LEFT + result.started_ms * scale
    bar = max(result.duration_ms * scale, 2.0)
    label = result.id if result.target in ("-", "local") else f"{result.id} {result.target}"
    is_slowest = slowest and result.duration_ms > 0
    duration = duration_text(result.duration_ms) + (" · slowest" if is_slowest else "")
    text_x, text_anchor, placement = _duration_place(x, bar, len(duration) * 6.5)
    return TimelineRow(
        label=shorten(label, 40),
        full_label=label,
        status=result.status.value,
        y=y,
        x=round(x, 1),
        width=round(bar, 1),
        duration=duration,
        slowest=is_slowest,
        text_x=round(text_x, 1),
        text_anchor=text_anchor,
        placement=placement,
        anchor=anchor,
    )


def _duration_place(x: float, bar: float, text_width: float) -> tuple[float, str, str]:
    """The duration goes right of the bar; where that would run off the edge, inside the bar's
    right end if the bar is wide enough, else left of the bar."""
    if x + bar + 4 + text_width <= _TIMELINE_WIDTH:
        return x + bar + 4, "start", "after"
    if bar > text_width + 8:
        return x + bar - 4, "end", "inside"
    return x - 4, "end", "before"


def _ticks(total: float, scale: float) -> list[tuple[float, str]]:
    step = nice_step(total)
    ticks: list[tuple[float, str]] = []
    tick = 0.0
    while tick <= total + 1e-9:
        ticks.append((round(_BAR_LEFT + tick * scale, 1), duration_text(tick)))
        tick += step
    return ticks


@dataclass(frozen=True)
class Family:
    name: str
    status: str
    results: list[tuple[str, CheckResult]]
    counts: dict[str, int]


def families(anchored: Sequence[tuple[str, CheckResult]]) -> list[Family]:
    grouped: dict[str, list[tuple[str, CheckResult]]] = {}
    for anchor, result in anchored:
        grouped.setdefault(result.family, []).append((anchor, result))
    out: list[Family] = []
    for name, items in grouped.items():
        counts = {status.value: 0 for status in STATUS_ORDER}
        for _, result in items:
            counts[result.status.value] += 1
        out.append(Family(name, worst_status(r.status for _, r in items).value, items, counts))
    return out


def context(report: Report) -> dict[str, Any]:
    anchored = [(f"result-{index}", result) for index, result in enumerate(report.checks)]
    status = report.status
    exit_code = report.exit_code
    return {
        "report": report,
        "css": stylesheet(),
        "status": status.value,
        "headline": HEADLINES[status],
        "exit_code": int(exit_code),
        "exit_name": exit_code.name,
        "exit_meaning": report.exit_meaning,
        "warn_accepted": report.warn_ok and status is Status.WARN,
        "counts": [(s.value, report.counts[s.value]) for s in STATUS_ORDER],
        "host": dict(report.host),
        "config_rows": _config_rows(report.config),
        "duration": duration_text(report.duration_ms),
        "problems": _problems(anchored),
        "families": families(anchored),
        "timeline": timeline(anchored, report.duration_ms),
        "title_host": str(report.host.get("hostname") or "unknown host"),
    }


def _problems(anchored: Sequence[tuple[str, CheckResult]]) -> list[tuple[str, CheckResult]]:
    """Errors first, then failures, then warnings, each in report order."""
    return [
        item for status in (Status.ERROR, Status.FAIL, Status.WARN) for item in anchored if item[1].status is status
    ]


def _config_rows(config: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The known settings under their labels in the labels' order, then any others as they come."""
    rows = [(CONFIG_LABELS.get(key, key), config[key]) for key in CONFIG_LABELS if key in config]
    return rows + [(key, value) for key, value in config.items() if key not in CONFIG_LABELS]


def render(report: Report, options: RenderOptions) -> str:
    return environment().get_template("report.html.j2").render(context(report))
