"""Every host accounted for: which expected hosts sent no report, whose report is too old, who was not expected.

The expect file lists the hosts that should be in the fleet, one per line::

    web-01
    web-02  could_not_run  exit 127: dtdoctor not found
    db-01   unreachable    ssh: connect to host db-01 port 22: No route to host

A line is a host name, optionally followed by why the collector got no
report (``unreachable`` or ``could_not_run``) and a note. Blank lines and
lines starting with ``#`` are ignored. A host with a report counts as
reporting whatever its line says; one without is missing, for the reason its
line gives, or ``no_report`` when the line gives none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from dtdoctor.duration import describe_seconds
from dtdoctor.fleet.summary import HostSummary, parse_timestamp, text_of

# Why an expected host has no report in the merge.
UNREACHABLE = "unreachable"
COULD_NOT_RUN = "could_not_run"
NO_REPORT = "no_report"
REASONS = (UNREACHABLE, COULD_NOT_RUN, NO_REPORT)
REASON_TEXT = {
    UNREACHABLE: "host unreachable",
    COULD_NOT_RUN: "dtdoctor could not run",
    NO_REPORT: "no report",
}
MAX_EXPECT_BYTES = 16 * 1024 * 1024


class ExpectFileError(ValueError):
    """The expect file cannot be read or has a line this version does not understand."""


@dataclass(frozen=True)
class ExpectedHost:
    name: str
    reason: str = NO_REPORT
    note: str = ""


@dataclass(frozen=True)
class MissingHost:
    """An expected host without a report, and why."""

    host: str
    reason: str
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data = {"host": self.host, "reason": self.reason}
        if self.note:
            data["note"] = self.note
        return data

    @property
    def text(self) -> str:
        return REASON_TEXT[self.reason] + (f": {self.note}" if self.note else "")


@dataclass(frozen=True)
class StaleHost:
    """A host whose newest report is older than ``--max-age`` (or has no readable time)."""

    host: str
    generated_at: str
    age_s: int | None

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "generated_at": self.generated_at, "age_s": self.age_s}

    @property
    def text(self) -> str:
        if self.age_s is None:
            return f"report time {self.generated_at!r} cannot be read"
        return f"report is {describe_seconds(self.age_s)} old ({self.generated_at})"


def parse_expect_lines(lines: Iterable[str], source: str = "expect file") -> list[ExpectedHost]:
    hosts: dict[str, ExpectedHost] = {}
    for number, line in enumerate(lines, 1):
        words = line.strip().split(None, 2)
        if not words or words[0].startswith("#"):
            continue
        reason = words[1] if len(words) > 1 else NO_REPORT
        if reason not in REASONS:
            raise ExpectFileError(
                f"{source} line {number}: {text_of(reason, 40)!r} is not a reason "
                f"(after the host name write one of {', '.join(REASONS)}, or nothing)"
            )
        name = text_of(words[0], 200)
        hosts[name.casefold()] = ExpectedHost(name, reason, text_of(words[2]) if len(words) > 2 else "")
    return list(hosts.values())


def read_expect_file(path: str) -> list[ExpectedHost]:
    try:
        with open(path, "rb") as stream:
            raw = stream.read(MAX_EXPECT_BYTES + 1)
    except OSError as exc:
        raise ExpectFileError(f"cannot read the expect file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_EXPECT_BYTES:
        raise ExpectFileError(f"the expect file {path} is too large (over 16 MiB)")
    return parse_expect_lines(raw.decode("utf-8", errors="replace").splitlines(), f"expect file {path}")


def missing_hosts(hosts: Sequence[HostSummary], expected: Sequence[ExpectedHost]) -> list[MissingHost]:
    present = {host.host.casefold() for host in hosts}
    return [MissingHost(item.name, item.reason, item.note) for item in expected
            if item.name.casefold() not in present]


def unexpected_hosts(hosts: Sequence[HostSummary], expected: Sequence[ExpectedHost]) -> list[str]:
    names = {item.name.casefold() for item in expected}
    return sorted(host.host for host in hosts if host.host.casefold() not in names)


def stale_hosts(hosts: Sequence[HostSummary], max_age_s: float, now: dt.datetime) -> list[StaleHost]:
    """Hosts whose report's own ``generated_at`` is more than ``max_age_s`` before ``now``."""
    unreadable = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    stale = []
    for host in hosts:
        moment = parse_timestamp(host.generated_at)
        if moment == unreadable:
            stale.append(StaleHost(host.host, host.generated_at, None))
            continue
        age = (now - moment).total_seconds()
        if age > max_age_s:
            stale.append(StaleHost(host.host, host.generated_at, int(age)))
    return sorted(stale, key=lambda item: item.host)
