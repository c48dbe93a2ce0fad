"""What a check is: an id, a title, its codes, and a plan of probes.

A check's ``plan`` looks at the run context and returns one ``Probe`` per
target. The runner runs probes concurrently, respecting each probe's
``requires`` (other checks' results on specific targets), and turns each
probe's ``Finding`` into a ``CheckResult``. A check never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from dtdoctor.core.codes import Code
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult, Status

# A result is addressed by (check id, target).
ResultKey = tuple[str, str]

NO_TARGET = "-"
LOCAL = "local"


@dataclass(frozen=True)
class Finding:
    """What a probe found. Status and remediation default to the code's."""

    code: str
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)
    status: Status | None = None
    remediation: str | None = None


@dataclass(frozen=True)
class ProbeContext:
    """What one probe gets: the run context and the results it required."""

    run: RunContext
    prior: Mapping[ResultKey, CheckResult]

    @property
    def timeout(self) -> float:
        return self.run.timeout

    def result(self, check_id: str, target: str) -> CheckResult | None:
        return self.prior.get((check_id, target))


@dataclass(frozen=True)
class Probe:
    """One unit of work: a check on one target.

    ``budget`` is how many per-probe timeouts the probe may need in the worst
    case (a TLS probe connects, then handshakes); the runner abandons it
    after ``budget * timeout`` plus a second of grace.

    ``after`` are results the probe reads when they exist: it starts once they
    are in and sees them like ``requires``, but runs whatever their status
    (a probe that reports on a failure of another check must not be skipped
    because of it).
    """

    target: str
    run: Callable[[ProbeContext], Finding]
    requires: tuple[ResultKey, ...] = ()
    budget: float = 1.0
    after: tuple[ResultKey, ...] = ()


@dataclass(frozen=True)
class Check:
    """A family of probes with its result codes."""

    id: str
    title: str
    codes: Mapping[str, Code]
    plan: Callable[[RunContext], Sequence[Probe]]
    # Families this check needs; shown as ``depends_on`` in every result.
    depends_on: tuple[str, ...] = ()


def unique_target(preferred: str, fallback: str, used: set[str]) -> str:
    """A result target not yet in ``used``: the host, else host:port, else numbered.

    Two URLs on one host (an environment and an ActiveGate, say) must not
    share a target, or their results could not be told apart.
    """
    target = fallback if preferred in used else preferred
    base, counter = target, 2
    while target in used:
        target, counter = f"{base}#{counter}", counter + 1
    used.add(target)
    return target


def constant(finding: Finding) -> Callable[[ProbeContext], Finding]:
    """A probe body that just reports ``finding`` (for not-applicable cases)."""
    return lambda _: finding


def missing_url_probe() -> Probe:
    """The probe a remote check plans when no environment URL is configured."""
    return Probe(
        NO_TARGET,
        constant(
            Finding(
                "url.missing",
                "skipped: no environment URL; set --url or DT_ENVIRONMENT_URL",
            )
        ),
    )


def missing_token_probe(target: str) -> Probe:
    """The probe a token-needing check plans when no token is configured."""
    return Probe(
        target,
        constant(
            Finding(
                "token.missing",
                "skipped: no API token; set DT_API_TOKEN or use --token-file PATH",
            )
        ),
    )
