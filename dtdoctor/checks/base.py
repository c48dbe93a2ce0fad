"""What a check is: an id, a title, the codes it emits, and a plan of probes.

A check's ``plan`` looks at the run context and returns one ``Probe`` per
target. A probe's ``requires`` and ``after`` are the one declaration of the
dependency graph: the runner waits for exactly those results (the planned
ones), hands them to the probe, and shows their check ids as the result's
``depends_on``. A fact two checks share (container detection, the TLS
handshakes) is the ``fact`` of the probe that found it, handed to the probes
that wait for that result. The runner turns each probe's ``Finding`` into a
``CheckResult``. A check never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from dtdoctor.core.background import Background
from dtdoctor.core.codes import Code
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult, Evidence, Status

# A result is addressed by (check id, target).
ResultKey = tuple[str, str]

NO_TARGET = "-"
LOCAL = "local"


@dataclass(frozen=True)
class Finding:
    """What a probe found: a code and the evidence behind it.

    The summary and remediation are the code's templates filled from the
    ``details``, unless the finding words them itself (checks not yet written
    as tables). ``status`` is the code's unless the code declares others in
    ``when``.

    ``fact`` is an in-memory object the probe measured and other probes may
    reuse (never serialized): the runner hands it to every probe that waits
    for this result. A fact that holds a resource (an open connection) has a
    ``release()``, which the runner calls when the run ends.

    ``details`` are free-form evidence for people; ``evidence`` holds the typed
    facts renderers and the fleet view read.
    """

    code: str
    summary: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    status: Status | None = None
    remediation: str | None = None
    fact: Any = field(default=None, compare=False, repr=False)
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True)
class ProbeContext:
    """What one probe gets: the run context, the results it waited for and their facts."""

    run: RunContext
    prior: Mapping[ResultKey, CheckResult]
    facts: Mapping[ResultKey, Any] = field(default_factory=dict)
    preparation: Preparation | None = None

    def prepared(self) -> Any:
        """What the probe's ``prepare`` returned (waiting for it to finish), or None when nothing was prepared.

        An exception of ``prepare`` is raised here, so it is the probe's crash.
        """
        return None if self.preparation is None else self.preparation.result()

    @property
    def timeout(self) -> float:
        return self.run.timeout

    def result(self, check_id: str, target: str) -> CheckResult | None:
        return self.prior.get((check_id, target))

    def fact(self, check_id: str, target: str) -> Any:
        """The fact behind a result this probe waited for; None when that probe shared none
        (it was not selected, was skipped, crashed or overran)."""
        return self.facts.get((check_id, target))


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

    ``prepare`` is work of the probe that waits for no result (reading a
    file, scanning a package list): the runner starts it in a thread of its
    own when the run starts, so it is done, or under way, when the results
    the probe waits for are in; the probe reads it with
    ``ProbeContext.prepared()``. It carries its own timeouts like any probe
    work; the probe's limit still counts from the probe's own start.
    """

    target: str
    run: Callable[[ProbeContext], Finding]
    requires: tuple[ResultKey, ...] = ()
    budget: float = 1.0
    after: tuple[ResultKey, ...] = ()
    prepare: Callable[[RunContext], Any] | None = None


# A probe's ``prepare``, run in a thread of its own from the start of the run; ``result()`` waits for it.
Preparation = Background[Any]


@dataclass(frozen=True)
class Check:
    """A family of probes and every result code they may emit.

    ``codes`` holds the check's own codes and those it borrows from another
    family (``url.missing`` when no URL is set, say); the runner refuses a
    finding whose code is not declared here or a runner code.

    ``plan_waits``: the plan may wait on the host (a program asked, within the
    run's timeout, for the port its target names). The runner plans such a
    check once the run has started, so only probes that name it wait for it.
    """

    id: str
    title: str
    codes: Mapping[str, Code]
    plan: Callable[[RunContext], Sequence[Probe]]
    plan_waits: bool = False


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
