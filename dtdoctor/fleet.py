"""``dtdoctor merge``: many hosts' JSON reports in, one fleet view out.

The merge streams: each report file is parsed, boiled down to a compact
``HostSummary`` (worst status, worst status per check family, the problem
results with the few detail values the fleet view compares) and the parsed
document is dropped before the next file is read. Memory therefore grows with
the number of hosts and their problems, not with the size of the raw reports
(a report full of evidence costs the same as a terse one). A large merge
parses in worker processes that hand back only those summaries, in order.

Which reports count:
- the newest report per host wins (by ``generated_at``); older ones are
  counted as superseded;
- unreadable files and files that are not dtdoctor host reports are skipped
  with a warning, and the merge exits at least 1;
- reports of a newer schema (``dtdoctor.report/v2`` and later) are refused:
  this version cannot judge them, so they are left out, named on stderr and in
  the fleet report, and the merge exits 3 (the fleet verdict is incomplete).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from dtdoctor import __version__
from dtdoctor.model import SCHEMA, STATUS_ORDER, ExitCode, Status, exit_code_for, worst_status

FLEET_SCHEMA = "dtdoctor.fleet/v1"
_SCHEMA_PREFIX = "dtdoctor.report/v"
_SUPPORTED_SCHEMA_VERSION = int(SCHEMA.rsplit("/v", 1)[1])

# A host report is a few kilobytes; a file this large is something else, and
# parsing it would defeat the bounded memory the merge promises.
MAX_REPORT_BYTES = 32 * 1024 * 1024
# A host with more problem results than this keeps the first ones and a count.
MAX_PROBLEMS_PER_HOST = 50
MAX_TEXT = 300  # summaries and compared values are cut to this many characters
# The fleet JSON is indented for a person while small, compact (and much faster to write) for a large fleet.
JSON_INDENT_MAX_HOSTS = 1000
# Below this many files one process is quicker than starting workers to parse in parallel.
PARALLEL_MIN_FILES = 1500
CHUNK_FILES = 250
MAX_WORKERS = 8

# Detail keys whose values the fleet view compares across the hosts that share
# a problem code: "37 hosts fail tls.untrusted_root, all with the same root".
# The result's target is always compared (the same unreachable endpoint).
# Each fact lists the detail keys that may carry it, first match wins; a key
# may name nesting ("certificate.issuer") and the last item of a list
# ("chain[-1].issuer": the issuer at the top of the chain the server sent).
SHARED_FACTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("certificate root", ("root_subject", "root", "chain_root", "root_issuer", "chain[-1].issuer")),
    ("certificate issuer", ("issuer", "certificate.issuer", "leaf_issuer", "issuer_cn")),
    ("missing scope", ("missing_scopes", "missing_scope", "scopes_missing")),
    ("proxy", ("proxy", "proxy_url")),
    ("HTTP status", ("http_status", "status_code")),
    ("error", ("error", "reason")),
)
TARGET_FACT = "endpoint"

_STATUS_BY_VALUE = {status.value: status for status in Status}
_SEVERITY = {status: status.severity for status in Status}
_PROBLEM_SEVERITY = Status.WARN.severity

# How the merge names a host.
HOST_FROM_CHOICES = ("report", "file", "parent")


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


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of the merge: skipped (unreadable, foreign) or refused (newer schema)."""

    path: str
    reason: str
    refused: bool = False

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class SharedFact:
    """How the hosts that share a problem code compare on one fact.

    ``values`` holds the most common values with how many hosts have each;
    ``hosts`` is how many of the code's hosts carry the fact at all.
    """

    name: str
    values: tuple[tuple[str, int], ...]
    hosts: int

    def to_json(self) -> dict[str, Any]:
        return {
            "fact": self.name,
            "hosts_with_fact": self.hosts,
            "values": [{"value": value, "hosts": count} for value, count in self.values],
        }


@dataclass(frozen=True)
class CodeSummary:
    """One result code across the fleet: how often, on which hosts, what they share."""

    code: str
    status: Status
    results: int
    hosts: tuple[str, ...]
    shared: tuple[SharedFact, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "status": self.status.value,
            "results": self.results,
            "hosts": len(self.hosts),
            "host_names": list(self.hosts),
        }
        if self.status.is_problem:
            data["shared"] = [fact.to_json() for fact in self.shared]
        return data


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    text = value if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fact_value(details: Mapping[str, Any], key: str) -> str | None:
    value: Any = details
    for part in key.split("."):
        last = part.endswith("[-1]")
        name = part[:-4] if last else part
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
        if last:
            if not isinstance(value, list) or not value:
                return None
            value = value[-1]
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, (list, tuple)):
        if not all(isinstance(item, (str, int, float)) for item in value):
            return None
        return _text(", ".join(sorted(str(item) for item in value)))
    if isinstance(value, dict):
        return None
    return _text(value)


def shared_facts_of(target: str, details: Any) -> tuple[tuple[str, str], ...]:
    """The comparable facts of one problem result: its endpoint and known detail keys."""
    facts: list[tuple[str, str]] = []
    if target and target not in ("-", "local"):
        facts.append((TARGET_FACT, sys.intern(_text(target))))
    if isinstance(details, dict):
        for name, keys in SHARED_FACTS:
            for key in keys:
                value = _fact_value(details, key)
                if value is not None:
                    facts.append((name, sys.intern(value)))
                    break
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
    match = re.fullmatch(re.escape(_SCHEMA_PREFIX) + r"(\d+)(?:\.\d+)*", schema)
    if match and int(match.group(1)) > _SUPPORTED_SCHEMA_VERSION:
        raise NewerSchema(schema)
    raise NotAReport(f"not a dtdoctor host report (schema {_text(schema, 80)!r})")


def summarize(data: Any, source: str, host_name: str | None = None) -> HostSummary:
    """Boil one parsed report down to its ``HostSummary``; raise ``NotAReport`` if it is malformed."""
    check_schema(data)
    host = data.get("host")
    reported = host.get("hostname") if isinstance(host, dict) else None
    if not isinstance(reported, str) or not reported.strip():
        raise NotAReport("malformed report: no host.hostname")
    checks = data.get("checks")
    if not isinstance(checks, list):
        raise NotAReport("malformed report: no \"checks\" list")

    counts = {status.value: 0 for status in STATUS_ORDER}
    families: dict[str, Status] = {}
    codes: dict[str, Status] = {}
    code_counts: dict[str, int] = {}
    problems: list[ProblemSummary] = []
    omitted = 0
    # The hot loop of a large merge: plain dict lookups instead of enum calls and properties.
    status_of, severity_of, intern = _STATUS_BY_VALUE, _SEVERITY, sys.intern
    for item in checks:
        if not isinstance(item, dict):
            raise NotAReport("malformed report: a check result is not an object")
        try:
            check_id = intern(str(item["id"]))
            code = intern(str(item["code"]))
            status_value = item["status"]
            status = status_of[status_value]
        except (KeyError, TypeError) as exc:
            raise NotAReport(f"malformed report: a check result lacks a valid {exc}") from None
        severity = severity_of[status]
        counts[status_value] += 1
        family = intern(check_id.partition(".")[0])
        known = families.get(family)
        if known is None or severity > severity_of[known]:
            families[family] = status
        known = codes.get(code)
        if known is None or severity > severity_of[known]:
            codes[code] = status
        code_counts[code] = code_counts.get(code, 0) + 1
        if severity >= _PROBLEM_SEVERITY:
            if len(problems) >= MAX_PROBLEMS_PER_HOST:
                omitted += 1
                continue
            target = intern(_text(item.get("target", "-"), 200))
            problems.append(
                ProblemSummary(
                    id=check_id,
                    target=target,
                    status=status,
                    code=code,
                    summary=_text(item.get("summary", "")),
                    facts=shared_facts_of(target, item.get("details")),
                )
            )
    tool = data.get("tool")
    generated_at = str(data.get("generated_at") or "")
    problems.sort(key=lambda problem: -problem.status.severity)
    return HostSummary(
        host=host_name or _text(reported, 200),
        reported_hostname=_text(reported, 200),
        generated_at=generated_at,
        source=source,
        tool_version=_text(tool.get("version", ""), 40) if isinstance(tool, dict) else "",
        os=_text(host.get("distribution") or host.get("os") or "", 120),
        container=_text(host.get("container") or "", 40),
        status=host_verdict(counts),
        counts=counts,
        families=families,
        codes=codes,
        code_counts=code_counts,
        problems=tuple(problems),
        problems_omitted=omitted,
        sort_key=(parse_timestamp(generated_at), source),
    )


def host_verdict(counts: Mapping[str, int]) -> Status:
    """A host's worst status, as its own report's headline says it: passes with some skips passed."""
    status = worst_status(_STATUS_BY_VALUE[value] for value, count in counts.items() if count)
    if status is Status.SKIP and counts.get(Status.PASS.value):
        return Status.PASS
    return status if any(counts.values()) else Status.SKIP


def read_report(path: str | Path) -> Any:
    """Parse one file, refusing anything too large to be a host report."""
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            if size > MAX_REPORT_BYTES:
                raise NotAReport(f"too large for a dtdoctor report ({size // (1024 * 1024)} MiB)")
            raw = stream.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise NotAReport(f"unreadable: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise NotAReport("too large for a dtdoctor report")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise NotAReport(f"not JSON ({reason})") from None


def iter_report_files(paths: Iterable[str | Path]) -> Iterator[str]:
    """Every file given, and every ``*.json`` under every folder given, in a stable order."""
    visited: set[tuple[int, int]] = set()
    for given in paths:
        if os.path.isdir(given):
            yield from _json_files_under(os.fspath(given), visited)
        else:
            yield os.fspath(given)


def _json_files_under(folder: str, visited: set[tuple[int, int]]) -> Iterator[str]:
    try:
        identity = os.stat(folder)
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    # A folder reached twice (a symlink loop, or the same folder given twice) is read once.
    key = (identity.st_dev, identity.st_ino)
    if key in visited:
        return
    visited.add(key)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if is_folder:
            yield from _json_files_under(entry.path, visited)
        elif entry.name.lower().endswith(".json"):
            yield entry.path


def host_name_for(path: str, host_from: str) -> str | None:
    if host_from == "file":
        return os.path.splitext(os.path.basename(path))[0]
    if host_from == "parent":
        return os.path.basename(os.path.dirname(os.path.abspath(path))) or None
    return None


def read_and_summarize(path: str, host_from: str = "report") -> HostSummary | SkippedFile:
    """One file's contribution to the merge: its host summary, or why it was left out."""
    try:
        return summarize(read_report(path), path, host_name_for(path, host_from))
    except NewerSchema as exc:
        return SkippedFile(
            path,
            f"written by a newer dtdoctor (schema {_text(exc.schema, 80)}); this dtdoctor {__version__} reads "
            f"{SCHEMA}: merge with a newer dtdoctor",
            refused=True,
        )
    except NotAReport as exc:
        return SkippedFile(path, str(exc))


def _summarize_chunk(chunk: tuple[list[str], str]) -> list[HostSummary | SkippedFile]:
    files, host_from = chunk
    return [read_and_summarize(path, host_from) for path in files]


def summarize_files(files: Sequence[str], host_from: str) -> Iterator[HostSummary | SkippedFile]:
    """Summaries in the order of ``files``; parsing is spread over the CPUs for a large merge.

    Workers return only the compact summaries, so the parent never holds a
    parsed report; chunks keep the hand-over cheap and the order stable.
    """
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    if len(files) < PARALLEL_MIN_FILES or workers < 2:
        for path in files:
            yield read_and_summarize(path, host_from)
        return
    import multiprocessing

    chunks = [(list(files[start : start + CHUNK_FILES]), host_from) for start in range(0, len(files), CHUNK_FILES)]
    # Not plain fork: forking a process that runs threads can deadlock the child
    # (Python 3.12+ warns, 3.14 no longer defaults to it). forkserver where the
    # platform has it, else spawn.
    methods = multiprocessing.get_all_start_methods()
    method = "forkserver" if "forkserver" in methods else "spawn"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        for outcomes in pool.imap(_summarize_chunk, chunks):
            yield from outcomes


@dataclass
class FleetMerger:
    """Folds report files into per-host summaries, one file at a time."""

    host_from: str = "report"
    hosts: dict[str, HostSummary] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    refused: list[SkippedFile] = field(default_factory=list)
    files_read: int = 0
    superseded: int = 0

    def add_file(self, path: str | Path) -> None:
        self.add_outcome(read_and_summarize(str(path), self.host_from))

    def add_outcome(self, outcome: HostSummary | SkippedFile) -> None:
        self.files_read += 1
        if isinstance(outcome, SkippedFile):
            (self.refused if outcome.refused else self.skipped).append(outcome)
            return
        known = self.hosts.get(outcome.host)
        if known is None:
            self.hosts[outcome.host] = outcome
            return
        self.superseded += 1
        if outcome.sort_key >= known.sort_key:
            self.hosts[outcome.host] = outcome

    def add_paths(self, paths: Iterable[str | Path], on_skip: Callable[[SkippedFile], None] | None = None) -> None:
        """Merge every report under ``paths``, in several processes when there are many."""
        files = list(iter_report_files(paths))
        for outcome in summarize_files(files, self.host_from):
            self.add_outcome(outcome)
            if on_skip is not None and isinstance(outcome, SkippedFile):
                on_skip(outcome)

    def fleet(self, warn_ok: bool = False) -> Fleet:
        ordered = sorted(self.hosts.values(), key=lambda host: (-host.status.severity, host.host))
        return Fleet(
            hosts=tuple(ordered),
            skipped=tuple(self.skipped),
            refused=tuple(self.refused),
            files_read=self.files_read,
            superseded=self.superseded,
            warn_ok=warn_ok,
        )


@dataclass(frozen=True)
class Fleet:
    """The merged view: every host's summary, worst first, and what was left out."""

    hosts: tuple[HostSummary, ...]
    skipped: tuple[SkippedFile, ...] = ()
    refused: tuple[SkippedFile, ...] = ()
    files_read: int = 0
    superseded: int = 0
    warn_ok: bool = False
    generated_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    @property
    def status(self) -> Status:
        return worst_status(host.status for host in self.hosts)

    @property
    def exit_code(self) -> ExitCode:
        """The worst status across the fleet; at least 1 if files were skipped, 3 if any was refused."""
        code = exit_code_for(self.status, self.warn_ok)
        if self.skipped:
            code = max(code, ExitCode.WARNING)
        if self.refused:
            code = ExitCode.UNKNOWN
        return ExitCode(code)

    def hosts_by_status(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {status.value: [] for status in STATUS_ORDER}
        for host in self.hosts:
            grouped[host.status.value].append(host.host)
        return grouped

    def result_counts(self) -> dict[str, int]:
        totals = {status.value: 0 for status in STATUS_ORDER}
        for host in self.hosts:
            for name, count in host.counts.items():
                totals[name] = totals.get(name, 0) + count
        return totals

    def families(self) -> list[str]:
        """Check families in report order (the check registry's), unknown ones after in order of appearance."""
        from dtdoctor.checks import CHECKS

        seen: dict[str, None] = {}
        for host in self.hosts:
            for family in host.families:
                seen.setdefault(family, None)
        registry = list(dict.fromkeys(check.id.split(".", 1)[0] for check in CHECKS))
        known = [family for family in registry if family in seen]
        return known + [family for family in seen if family not in registry]

    def codes(self, top_values: int = 3) -> list[CodeSummary]:
        """Every result code: problem codes first, by how many hosts they hit."""
        hosts_of: dict[str, list[str]] = {}
        status_of: dict[str, Status] = {}
        results_of: Counter[str] = Counter()
        values_of: dict[tuple[str, str], Counter[str]] = {}
        hosts_with_fact: Counter[tuple[str, str]] = Counter()
        for host in self.hosts:
            for code, status in host.codes.items():
                hosts_of.setdefault(code, []).append(host.host)
                results_of[code] += host.code_counts.get(code, 1)
                if code not in status_of or status.severity > status_of[code].severity:
                    status_of[code] = status
            # A host counts once per fact value, however many of its targets share it.
            host_facts = {(problem.code, name, value) for problem in host.problems for name, value in problem.facts}
            for code, name, value in host_facts:
                values_of.setdefault((code, name), Counter())[value] += 1
            for code, name in {(code, name) for code, name, _ in host_facts}:
                hosts_with_fact[(code, name)] += 1
        facts_by_code: dict[str, list[SharedFact]] = {}
        for (code, name), counter in values_of.items():
            facts_by_code.setdefault(code, []).append(
                SharedFact(
                    name=name, values=tuple(counter.most_common(top_values)), hosts=hosts_with_fact[(code, name)]
                )
            )
        summaries: list[CodeSummary] = []
        for code, hosts in hosts_of.items():
            shared = facts_by_code.get(code, [])
            # The fact most hosts agree on comes first: that is the likely common cause.
            shared.sort(key=lambda fact: (-(fact.values[0][1] if fact.values else 0), fact.name))
            summaries.append(
                CodeSummary(code=code, status=status_of[code], results=results_of[code], hosts=tuple(hosts),
                            shared=tuple(shared))
            )
        summaries.sort(key=lambda item: (not item.status.is_problem, -len(item.hosts), -item.status.severity,
                                         item.code))
        return summaries

    def problem_codes(self) -> list[CodeSummary]:
        return [summary for summary in self.codes() if summary.status.is_problem]

    def to_json(self) -> dict[str, Any]:
        grouped = self.hosts_by_status()
        return {
            "schema": FLEET_SCHEMA,
            "tool": {"name": "dtdoctor", "version": __version__},
            "generated_at": self.generated_at,
            "status": self.status.value,
            "exit_code": int(self.exit_code),
            "files": {
                "read": self.files_read,
                "merged": len(self.hosts),
                "superseded": self.superseded,
                "skipped": [item.to_json() for item in self.skipped],
                "refused": [item.to_json() for item in self.refused],
            },
            "hosts_total": len(self.hosts),
            "counts": {
                "hosts": {name: len(names) for name, names in grouped.items()},
                "results": self.result_counts(),
            },
            "statuses": {name: {"hosts": len(names), "host_names": names} for name, names in grouped.items()},
            "codes": [summary.to_json() for summary in self.codes()],
            "hosts": [host.to_json() for host in self.hosts],
        }


def merge_paths(paths: Sequence[str | Path], host_from: str = "report", warn_ok: bool = False) -> Fleet:
    merger = FleetMerger(host_from=host_from)
    merger.add_paths(paths)
    return merger.fleet(warn_ok)


# Output suffix -> fleet format.
FLEET_SUFFIXES = {".html": "html", ".htm": "html", ".json": "json"}


def render_fleet(fleet: Fleet, fmt: str) -> str:
    if fmt == "json":
        indent = 2 if len(fleet.hosts) <= JSON_INDENT_MAX_HOSTS else None
        return json.dumps(fleet.to_json(), indent=indent, ensure_ascii=False) + "\n"
    from dtdoctor.render.fleet_html import render

    return render(fleet)


def output_targets(outputs: Sequence[str]) -> list[tuple[Path, str]]:
    """Each ``-o`` path with the fleet format its suffix names; a bad one is a usage error."""
    import click

    from dtdoctor.output import report_path

    targets: list[tuple[Path, str]] = []
    for text in outputs:
        try:
            targets.append(report_path(text, FLEET_SUFFIXES, "fleet report"))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    return targets


def run_merge(paths: Sequence[str], outputs: Sequence[str], host_from: str, warn_ok: bool, redactor: Any) -> int:
    """``dtdoctor merge``: read, merge, write, tell; the exit code is the fleet's worst status."""
    import click

    from dtdoctor.output import write_atomic

    targets = output_targets(outputs)
    merger = FleetMerger(host_from=host_from)
    merger.add_paths(paths, on_skip=tell_skipped)
    fleet = merger.fleet(warn_ok)
    if not fleet.hosts:
        where = ", ".join(paths)
        raise click.ClickException(f"no dtdoctor host reports to merge in {where} ({merger.files_read} files read)")
    for path, fmt in targets:
        write_atomic(path, render_fleet(fleet, fmt), redactor)
    grouped = fleet.hosts_by_status()
    by_status = ", ".join(f"{len(grouped[s.value])} {s.value}" for s in STATUS_ORDER if grouped[s.value])
    extras = []
    if fleet.superseded:
        extras.append(f"{fleet.superseded} older superseded")
    if fleet.skipped:
        extras.append(f"{len(fleet.skipped)} skipped")
    if fleet.refused:
        extras.append(f"{len(fleet.refused)} refused")
    extra = f"; {', '.join(extras)}" if extras else ""
    written = ", ".join(str(path) for path, _ in targets)
    sys.stdout.write(
        f"merged {_plural(len(fleet.hosts), 'host')} from {_plural(fleet.files_read, 'file')} ({by_status}{extra}); "
        f"fleet status {fleet.status.value}, exit {int(fleet.exit_code)}; wrote {written}\n"
    )
    return int(fleet.exit_code)


def tell_skipped(item: SkippedFile) -> None:
    # Said as it happens, so a long merge shows its problems early.
    if item.refused:
        sys.stderr.write(f"dtdoctor: error: refused {item.path}: {item.reason}\n")
    else:
        sys.stderr.write(f"dtdoctor: warning: skipped {item.path}: {item.reason}\n")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
