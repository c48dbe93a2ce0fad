"""Host summaries in, one ``Fleet`` out: the newest report per host, and every code across the fleet."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from dtdoctor import __version__
from dtdoctor.core.model import STATUS_ORDER, ExitCode, Status, exit_code_for, worst_status
from dtdoctor.fleet.accounting import (
    ExpectedHost,
    MissingHost,
    StaleHost,
    missing_hosts,
    stale_hosts,
    unexpected_hosts,
)
from dtdoctor.fleet.reading import SkippedFile, iter_report_files, read_and_summarize, summarize_files
from dtdoctor.fleet.summary import FLEET_SCHEMA, HostSummary


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
    # Hosts per status the code had there (worst per host): a problem code's ``hosts`` are
    # only those where it was a problem, so six hosts that skipped it do not count as failing.
    statuses: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "code": self.code,
            "status": self.status.value,
            "results": self.results,
            "hosts": len(self.hosts),
            "host_names": list(self.hosts),
            "statuses": dict(self.statuses),
        }
        if self.status.is_problem:
            data["shared"] = [fact.to_json() for fact in self.shared]
        return data


@dataclass
class FleetMerger:
    """Folds report files into per-host summaries, one file at a time."""

    host_from: str = "report"
    hosts: dict[str, HostSummary] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)
    refused: list[SkippedFile] = field(default_factory=list)
    files_read: int = 0
    superseded: int = 0
    duplicates: int = 0
    # Every report's digest per host, so a copy is a duplicate whether its first copy was kept or superseded.
    digests: dict[str, set[str]] = field(default_factory=dict)

    def add_file(self, path: str | Path) -> None:
        self.add_outcome(read_and_summarize(str(path), self.host_from))

    def add_outcome(self, outcome: HostSummary | SkippedFile) -> None:
        self.files_read += 1
        if isinstance(outcome, SkippedFile):
            (self.refused if outcome.refused else self.skipped).append(outcome)
            return
        seen = self.digests.setdefault(outcome.host, set())
        if outcome.digest and outcome.digest in seen:
            self.duplicates += 1  # the same report collected twice: neither is older
            return
        if outcome.digest:
            seen.add(outcome.digest)
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

    def fleet(self, warn_ok: bool = False, expected: Sequence[ExpectedHost] | None = None,
              max_age_s: float | None = None, now: dt.datetime | None = None) -> Fleet:
        """The merged view; with ``expected``, missing and unexpected hosts; with ``max_age_s``, stale ones."""
        ordered = sorted(self.hosts.values(), key=lambda host: (-host.status.severity, host.host))
        now = now or dt.datetime.now(dt.timezone.utc)
        return Fleet(
            hosts=tuple(ordered),
            skipped=tuple(self.skipped),
            refused=tuple(self.refused),
            files_read=self.files_read,
            superseded=self.superseded,
            duplicates=self.duplicates,
            warn_ok=warn_ok,
            expected=None if expected is None else len(expected),
            missing=tuple(missing_hosts(ordered, expected or ())),
            unexpected=tuple(unexpected_hosts(ordered, expected)) if expected is not None else (),
            stale=tuple(stale_hosts(ordered, max_age_s, now)) if max_age_s is not None else (),
            max_age_s=max_age_s,
        )


@dataclass(frozen=True)
class Fleet:
    """The merged view: every host's summary, worst first, and what was left out."""

    hosts: tuple[HostSummary, ...]
    skipped: tuple[SkippedFile, ...] = ()
    refused: tuple[SkippedFile, ...] = ()
    files_read: int = 0
    superseded: int = 0
    duplicates: int = 0
    warn_ok: bool = False
    expected: int | None = None  # how many hosts the expect file named (None: no --expect)
    missing: tuple[MissingHost, ...] = ()
    unexpected: tuple[str, ...] = ()
    stale: tuple[StaleHost, ...] = ()
    max_age_s: float | None = None
    generated_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    @property
    def status(self) -> Status:
        """The worst host's status; ``error`` when an expected host is missing or a report is stale."""
        if self.missing or self.stale:
            return Status.ERROR
        return worst_status(host.status for host in self.hosts)

    @property
    def unaccounted(self) -> int:
        """Hosts the fleet verdict cannot speak for: missing, or known only from a stale report."""
        return len(self.missing) + len(self.stale)

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
        status_of, statuses_of = _code_statuses(self.hosts)
        hosts_of, results_of = _code_hosts(self.hosts, status_of)
        facts_by_code = _shared_facts(self.hosts, top_values)
        summaries: list[CodeSummary] = []
        for code, hosts in hosts_of.items():
            shared = facts_by_code.get(code, [])
            # The fact most hosts agree on comes first: that is the likely common cause.
            shared.sort(key=lambda fact: (-(fact.values[0][1] if fact.values else 0), fact.name))
            summaries.append(
                CodeSummary(code=code, status=status_of[code], results=results_of[code], hosts=tuple(hosts),
                            shared=tuple(shared), statuses=status_counts(statuses_of[code]))
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
                "duplicates": self.duplicates,
                "skipped": [item.to_json() for item in self.skipped],
                "refused": [item.to_json() for item in self.refused],
            },
            "hosts_total": len(self.hosts),
            "hosts_expected": self.expected,
            "hosts_missing": [item.to_json() for item in self.missing],
            "hosts_stale": [item.to_json() for item in self.stale],
            "hosts_unexpected": list(self.unexpected),
            "max_age_s": self.max_age_s,
            "counts": {
                "hosts": {name: len(names) for name, names in grouped.items()},
                "results": self.result_counts(),
            },
            "statuses": {name: {"hosts": len(names), "host_names": names} for name, names in grouped.items()},
            "codes": [summary.to_json() for summary in self.codes()],
            "hosts": [host.to_json() for host in self.hosts],
        }


def status_counts(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
    """Hosts per status, in the report's order of statuses."""
    return tuple((status.value, counter[status.value]) for status in STATUS_ORDER if counter[status.value])


def merge_paths(paths: Sequence[str | Path], host_from: str = "report", warn_ok: bool = False) -> Fleet:
    merger = FleetMerger(host_from=host_from)
    merger.add_paths(paths)
    return merger.fleet(warn_ok)


def _code_statuses(hosts: Iterable[HostSummary]) -> tuple[dict[str, Status], dict[str, Counter[str]]]:
    """Per code: its worst status across the fleet, and how many hosts had it in each status."""
    status_of: dict[str, Status] = {}
    statuses_of: dict[str, Counter[str]] = {}
    for host in hosts:
        for code, status in host.codes.items():
            statuses_of.setdefault(code, Counter())[status.value] += 1
            if code not in status_of or status.severity > status_of[code].severity:
                status_of[code] = status
    return status_of, statuses_of


def _code_hosts(
    hosts: Iterable[HostSummary], status_of: dict[str, Status]
) -> tuple[dict[str, list[str]], Counter[str]]:
    """Per code: the hosts it counts for and its results there; a problem code counts only where it was a problem."""
    hosts_of: dict[str, list[str]] = {}
    results_of: Counter[str] = Counter()
    for host in hosts:
        for code, status in host.codes.items():
            if status.is_problem or not status_of[code].is_problem:
                hosts_of.setdefault(code, []).append(host.host)
                results_of[code] += host.code_counts.get(code, 1)
    return hosts_of, results_of


def _shared_facts(hosts: Iterable[HostSummary], top_values: int) -> dict[str, list[SharedFact]]:
    """Per problem code: each fact's most common values, and how many hosts reported that fact."""
    values_of: dict[tuple[str, str], Counter[str]] = {}
    hosts_with_fact: Counter[tuple[str, str]] = Counter()
    for host in hosts:
        # A host counts once per fact value, however many of its targets share it.
        host_facts = {(problem.code, name, value) for problem in host.problems for name, value in problem.facts}
        for code, name, value in host_facts:
            values_of.setdefault((code, name), Counter())[value] += 1
        for code, name in {(code, name) for code, name, _ in host_facts}:
            hosts_with_fact[(code, name)] += 1
    facts_by_code: dict[str, list[SharedFact]] = {}
    for (code, name), counter in values_of.items():
        facts_by_code.setdefault(code, []).append(
            SharedFact(name=name, values=tuple(counter.most_common(top_values)), hosts=hosts_with_fact[(code, name)])
        )
    return facts_by_code
