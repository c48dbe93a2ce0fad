"""The fleet HTML page: many hosts' merged reports on one self-contained page.

Same look as the host report (its stylesheet, inlined), no external
resources. What a person reads first: the fleet verdict and hosts per
status; then the problems most hosts share and what those hosts have in
common; then a host × check-family matrix whose coloured cells link to each
host's results, which open on demand.

A page for 10,000 hosts must stay usable, so it is bounded: the matrix and
the per-host details list the hosts with problems first, up to
``MATRIX_MAX_HOSTS`` and ``DETAIL_MAX_HOSTS``; the remaining hosts are named
in compact lists with their status, and fleet.json always has everything.
jinja2 is imported only here, with autoescaping on: hostnames and summaries
come from the hosts and are never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dtdoctor.core.model import STATUS_ORDER, Status, exit_meaning

if TYPE_CHECKING:
    from dtdoctor.fleet import CodeSummary, Fleet, HostSummary, ProblemSummary

MATRIX_MAX_HOSTS = 500
DETAIL_MAX_HOSTS = 1000
TOP_CODES = 25
HOSTS_NAMED_PER_CODE = 30
LISTED_FILES_MAX = 50

HEADLINES = {
    Status.PASS: "Every host can send events",
    Status.SKIP: "Nothing could be checked",
    Status.WARN: "The fleet works, with warnings",
    Status.FAIL: "Some hosts cannot send events",
    Status.ERROR: "The fleet verdict is incomplete",
}
CELL_TEXT = {Status.PASS: "ok", Status.SKIP: "skip", Status.WARN: "warn", Status.FAIL: "FAIL", Status.ERROR: "ERR"}


@dataclass(frozen=True)
class HostRow:
    """One host as the page shows it, with the anchors its matrix cells link to."""

    index: int
    host: HostSummary
    anchor: str
    cells: tuple[tuple[str, Status | None, str], ...]  # (family, status or None, link)
    problems: tuple[tuple[ProblemSummary, str | None], ...]  # the first problem of a family carries its anchor


def host_rows(fleet: Fleet, families: list[str], limit: int) -> list[HostRow]:
    rows: list[HostRow] = []
    for index, host in enumerate(fleet.hosts[:limit]):
        anchor = f"host-{index}"
        family_anchors: dict[str, str] = {}
        problems: list[tuple[ProblemSummary, str | None]] = []
        for problem in host.problems:
            first = problem.family not in family_anchors
            family_anchors.setdefault(problem.family, f"{anchor}-{problem.family}")
            problems.append((problem, family_anchors[problem.family] if first else None))
        cells = tuple(
            (family, host.families.get(family), f"#{family_anchors.get(family, anchor)}") for family in families
        )
        rows.append(HostRow(index, host, anchor, cells, tuple(problems)))
    return rows


def with_remediation(summaries: list[CodeSummary]) -> list[tuple[CodeSummary, str]]:
    """How to fix each code in general, from the code registry (hosts' own advice may be more specific)."""
    from dtdoctor.checks import registry_codes  # only the fleet page needs the checks' code tables

    table = registry_codes()
    advice = {name: code.general_remediation for name, code in table.items()}
    return [(summary, advice.get(summary.code, "")) for summary in summaries]


# How the hosts where a problem code was not a problem had it, for the page.
_NOT_A_PROBLEM = {Status.SKIP.value: "skipped", Status.PASS.value: "passed"}


def also_had(summary: CodeSummary) -> str:
    """``6 more skipped it`` for a problem code six more hosts had as a skip: they are not among its hosts."""
    return ", ".join(f"{count} more {_NOT_A_PROBLEM[status]} it" for status, count in summary.statuses
                     if status in _NOT_A_PROBLEM)


def context(fleet: Fleet) -> dict[str, Any]:
    from dtdoctor.render.html import stylesheet

    families = fleet.families()
    grouped = fleet.hosts_by_status()
    stale = {item.host for item in fleet.stale}
    problem_hosts = sum(1 for host in fleet.hosts if host.status.is_problem or host.host in stale) + len(fleet.missing)
    detail_limit = min(len(fleet.hosts), DETAIL_MAX_HOSTS)
    rows = host_rows(fleet, families, detail_limit)
    host_anchor = {row.host.host: row.anchor for row in rows}
    exit_code = fleet.exit_code
    codes = fleet.problem_codes()  # computed once: it walks every host
    return {
        "css": stylesheet(),
        "fleet": fleet,
        "status": fleet.status.value,
        "headline": HEADLINES[fleet.status],
        "exit_code": int(exit_code),
        "exit_name": exit_code.name,
        "exit_meaning": exit_meaning(fleet.status, exit_code),
        "host_counts": [(status.value, len(grouped[status.value])) for status in STATUS_ORDER],
        "problem_hosts": problem_hosts,
        "codes": with_remediation(codes[:TOP_CODES]),
        "more_codes": max(0, len(codes) - TOP_CODES),
        "hosts_named_per_code": HOSTS_NAMED_PER_CODE,
        "host_anchor": host_anchor,
        "families": families,
        "matrix": rows[:MATRIX_MAX_HOSTS],
        "matrix_left_out": len(fleet.hosts) - min(len(fleet.hosts), MATRIX_MAX_HOSTS),
        "details": rows,
        "details_left_out": fleet.hosts[detail_limit:],
        "skipped": fleet.skipped[:LISTED_FILES_MAX],
        "refused": fleet.refused[:LISTED_FILES_MAX],
        "files_left_out": max(0, len(fleet.skipped) - LISTED_FILES_MAX)
        + max(0, len(fleet.refused) - LISTED_FILES_MAX),
        "cell_text": {status: text for status, text in CELL_TEXT.items()},
        "also_had": also_had,
    }


def render(fleet: Fleet) -> str:
    from dtdoctor.render.html import environment

    return environment().get_template("fleet.html.j2").render(**context(fleet))
