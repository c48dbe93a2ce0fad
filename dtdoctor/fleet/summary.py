"""One parsed host report, boiled down to the ``HostSummary`` the fleet view needs.

The summary keeps the worst status overall, per check family and per code,
and the problem results with the few detail values the fleet view compares;
everything else of the report is dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping

from dtdoctor.core.model import SCHEMA, STATUS_ORDER, ExitCode, Status, exit_code_for, worst_status

FLEET_SCHEMA = "dtdoctor.fleet/v1"
_SCHEMA_PREFIX = "dtdoctor.report/v"
_SUPPORTED_SCHEMA_VERSION = int(SCHEMA.rsplit("/v", 1)[1])

# A host with more problem results than this keeps the first ones and a count.
MAX_PROBLEMS_PER_HOST = 50
MAX_TEXT = 300  # summaries and compared values are cut to this many characters

# The typed evidence the fleet view compares across the hosts that share a
# problem code: "37 hosts fail tls.untrusted_root, all with the same root".
# The result's target is always compared too (the same unreachable endpoint).
SHARED_FACTS: tuple[tuple[str, str], ...] = (
    ("certificate root", "certificate_root"),
    ("certificate issuer", "certificate_issuer"),
    ("missing scope", "missing_scopes"),
    ("proxy", "proxy"),
    ("HTTP status", "http_status"),
    ("error", "error"),
)
TARGET_FACT = "endpoint"

_STATUS_BY_VALUE = {status.value: status for status in Status}
_SEVERITY = {status: status.severity for status in Status}
_PROBLEM_SEVERITY = Status.WARN.severity


class NotAReport(Exception):
    """The file is unreadable or not a dtdoctor host report: skip it."""


class NewerSchema(Exception):
    """The file is a report of a schema newer than this version reads: refuse it."""

    def __init__(self, schema: str) -> None:
        super().__init__(schema)
        self.schema = schema


@dataclass(frozen=True)
class ProblemSummary:
    """One warn/fail/error result, reduced to what the fleet view shows."""

    id: str
    target: str
    status: Status
    code: str
    summary: str
    facts: tuple[tuple[str, str], ...] = ()

    @property
    def family(self) -> str:
        return self.id.split(".", 1)[0]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "target": self.target,
            "status": self.status.value,
            "code": self.code,
            "summary": self.summary,
        }
        if self.facts:
            data["facts"] = dict(self.facts)
        return data


@dataclass
class HostSummary:
    """What the fleet view needs of one host's newest report.

    Attributes:
        host: the name the fleet knows the host by (see ``--host-from``).
        reported_hostname: ``host.hostname`` inside the report.
        generated_at: the report's timestamp as written.
        source: the file the report came from.
        status: the worst status of the host's results.
        counts: results per status.
        families: the worst status per check family (``tls``, ``config``...).
        codes: the worst status per result code on this host.
        code_counts: how many results carry each code on this host.
        problems: the warn/fail/error results, at most ``MAX_PROBLEMS_PER_HOST``.
        problems_omitted: how many problem results were left out.
        digest: SHA-256 of the report file's bytes: the same report collected twice has the same one.
    """

    host: str
    reported_hostname: str
    generated_at: str
    source: str
    tool_version: str
    os: str
    container: str
    status: Status
    counts: dict[str, int]
    families: dict[str, Status]
    codes: dict[str, Status]
    code_counts: dict[str, int]
    problems: tuple[ProblemSummary, ...]
    problems_omitted: int = 0
    sort_key: tuple[dt.datetime, str] = field(default=(dt.datetime.min.replace(tzinfo=dt.timezone.utc), ""))
    digest: str = ""

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_for(self.status)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "host": self.host,
            "hostname": self.reported_hostname,
            "status": self.status.value,
            "exit_code": int(self.exit_code),
            "generated_at": self.generated_at,
            "source": self.source,
            "tool_version": self.tool_version,
            "os": self.os,
            "container": self.container or None,
            "counts": dict(self.counts),
            "families": {name: status.value for name, status in self.families.items()},
            "problems": [problem.to_json() for problem in self.problems],
        }
        if self.problems_omitted:
            data["problems_omitted"] = self.problems_omitted
        return data




def text_of(value: Any, limit: int = MAX_TEXT) -> str:
    """``value`` as one line of at most ``limit`` characters (whitespace collapsed, cut with an ellipsis)."""
    text = value if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fact_value(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, list):
        items = sorted(str(item) for item in value if isinstance(item, (str, int)))
        return text_of(", ".join(items)) if items else None
    return text_of(value) if isinstance(value, (str, int, float)) else None


def shared_facts_of(target: str, evidence: Any) -> tuple[tuple[str, str], ...]:
    """The comparable facts of one problem result: its endpoint and its typed evidence."""
    facts: list[tuple[str, str]] = []
    if target and target not in ("-", "local"):
        facts.append((TARGET_FACT, sys.intern(text_of(target))))
    if isinstance(evidence, dict):
        for name, key in SHARED_FACTS:
            value = _fact_value(evidence.get(key))
            if value is not None:
                facts.append((name, sys.intern(value)))
    return tuple(facts)


def parse_timestamp(text: str) -> dt.datetime:
    """``generated_at`` as an aware datetime; an unparsable one sorts oldest."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


def check_schema(data: Any) -> None:
    """Raise unless ``data`` is a host report this version can read."""
    if not isinstance(data, dict):
        raise NotAReport("not a dtdoctor report (the JSON is not an object)")
    schema = data.get("schema")
    if not isinstance(schema, str):
        raise NotAReport("not a dtdoctor report (no \"schema\" field)")
    if schema == SCHEMA:
        return
    if schema == FLEET_SCHEMA:
        raise NotAReport("a fleet report, not a host report (merge the host reports instead)")
    match = re.fullmatch(re.escape(_SCHEMA_PREFIX) + r"([0-9]{1,6})(?:\.[0-9]+)*", schema)
    if match and int(match.group(1)) > _SUPPORTED_SCHEMA_VERSION:
        raise NewerSchema(schema)
    raise NotAReport(f"not a dtdoctor host report (schema {text_of(schema, 80)!r})")


def _host_and_checks(data: Any) -> tuple[dict[str, Any], str, list[Any]]:
    """The report's host facts, its host name and its results; ``NotAReport`` if any is missing."""
    check_schema(data)
    host = data.get("host")
    reported = host.get("hostname") if isinstance(host, dict) else None
    if not isinstance(host, dict) or not isinstance(reported, str) or not reported.strip():
        raise NotAReport("malformed report: no host.hostname")
    checks = data.get("checks")
    if not isinstance(checks, list):
        raise NotAReport("malformed report: no \"checks\" list")
    return host, reported, checks


def _identity(item: Any) -> tuple[str, str, str, Status]:
    """A result's id, code, status text and status; ``NotAReport`` if it lacks one."""
    if not isinstance(item, dict):
        raise NotAReport("malformed report: a check result is not an object")
    try:
        status_value = item["status"]
        return sys.intern(str(item["id"])), sys.intern(str(item["code"])), status_value, _STATUS_BY_VALUE[status_value]
    except (KeyError, TypeError) as exc:
        raise NotAReport(f"malformed report: a check result lacks a valid {exc}") from None


def _keep_worst(worst: dict[str, Status], key: str, status: Status) -> None:
    known = worst.get(key)
    if known is None or _SEVERITY[status] > _SEVERITY[known]:
        worst[key] = status


@dataclass
class _Tally:
    """One host's results folded as the fleet needs them (the hot loop of a large merge:
    plain dict lookups instead of enum calls and properties)."""

    counts: dict[str, int] = field(default_factory=lambda: {status.value: 0 for status in STATUS_ORDER})
    families: dict[str, Status] = field(default_factory=dict)
    codes: dict[str, Status] = field(default_factory=dict)
    code_counts: dict[str, int] = field(default_factory=dict)
    problems: list[ProblemSummary] = field(default_factory=list)
    omitted: int = 0

    def add(self, item: Any) -> None:
        check_id, code, status_value, status = _identity(item)
        self.counts[status_value] += 1
        _keep_worst(self.families, sys.intern(check_id.partition(".")[0]), status)
        _keep_worst(self.codes, code, status)
        self.code_counts[code] = self.code_counts.get(code, 0) + 1
        if _SEVERITY[status] >= _PROBLEM_SEVERITY:
            self.add_problem(item, check_id, code, status)

    def add_problem(self, item: dict[str, Any], check_id: str, code: str, status: Status) -> None:
        if len(self.problems) >= MAX_PROBLEMS_PER_HOST:
            self.omitted += 1
            return
        target = sys.intern(text_of(item.get("target", "-"), 200))
        self.problems.append(ProblemSummary(
            id=check_id, target=target, status=status, code=code, summary=text_of(item.get("summary", "")),
            facts=shared_facts_of(target, item.get("evidence")),
        ))


def summarize(data: Any, source: str, host_name: str | None = None) -> HostSummary:
    """Boil one parsed report down to its ``HostSummary``; raise ``NotAReport`` if it is malformed."""
    host, reported, checks = _host_and_checks(data)
    tally = _Tally()
    for item in checks:
        tally.add(item)
    tally.problems.sort(key=lambda problem: -problem.status.severity)
    tool = data.get("tool")
    generated_at = str(data.get("generated_at") or "")
    return HostSummary(
        host=host_name or text_of(reported, 200),
        reported_hostname=text_of(reported, 200),
        generated_at=generated_at,
        source=source,
        tool_version=text_of(tool.get("version", ""), 40) if isinstance(tool, dict) else "",
        os=text_of(host.get("distribution") or host.get("os") or "", 120),
        container=text_of(host.get("container") or "", 40),
        status=host_verdict(tally.counts),
        counts=tally.counts,
        families=tally.families,
        codes=tally.codes,
        code_counts=tally.code_counts,
        problems=tuple(tally.problems),
        problems_omitted=tally.omitted,
        sort_key=(parse_timestamp(generated_at), source),
    )


def host_verdict(counts: Mapping[str, int]) -> Status:
    """A host's worst status, as its own report's headline says it: passes with some skips passed."""
    status = worst_status(_STATUS_BY_VALUE[value] for value, count in counts.items() if count)
    if status is Status.SKIP and counts.get(Status.PASS.value):
        return Status.PASS
    return status if any(counts.values()) else Status.SKIP
