"""``container``: is this host a container, and which runtime runs it?

The verdict is informational (always ``pass``), but other checks depend on
it: OneAgent's local ingest endpoint does not exist inside containers, so the
``eec`` check advises an ActiveGate there. Detection itself lives in
``dtdoctor.host.container``; the result carries it as its fact, which the
``oneagent`` and ``eec`` probes read after waiting for it (``detection``).
"""

from __future__ import annotations

from dataclasses import replace

from dtdoctor import host
from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, ProbeContext
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.host import container as detect

ID = "container"

# Container codes are passes: no remediation arrow; what follows from them goes into the causes.
_EEC_NOTE = (
    " Inside containers OneAgent's local ingest endpoint is not available; events go through an ActiveGate "
    "or straight to the environment (see the eec check)."
)

# How every container code reads: the runtime, then the evidence that decided it.
_DECIDED = "; decided by {decided_by[source]} ({decided_by[observed]}){_qualifiers}"


def _runtime(name: str, label: str, causes: str) -> Code:
    return Code(
        f"container.{name}",
        Status.PASS,
        f"This host is {label}.",
        causes,
        summary="{_perhaps}running in a container ({_label})" + _DECIDED,
    )


CODES = codes(
    Code(
        "container.none",
        Status.PASS,
        "This host is not a container.",
        "No container evidence was found; the details list everything that was looked at.",
        summary="not a container: no container evidence found",
    ),
    _runtime("docker", "a Docker container", "Docker evidence was found." + _EEC_NOTE),
    _runtime("podman", "a Podman container", "Podman evidence was found." + _EEC_NOTE),
    Code(
        "container.kubernetes",
        Status.PASS,
        "This host is a container in a Kubernetes pod.",
        "Kubernetes' service-account mount or a kubepods cgroup was found. Pods send events through an "
        "ActiveGate (in the cluster: the Dynatrace Operator's ActiveGate) or straight to the environment; "
        "OneAgent's local ingest endpoint is not available to them.",
        summary="{_perhaps}running in a Kubernetes pod{_on}" + _DECIDED,
    ),
    _runtime("containerd", "a containerd container", "containerd evidence was found." + _EEC_NOTE),
    _runtime("lxc", "an LXC container", "LXC evidence was found." + _EEC_NOTE),
    Code(
        "container.other",
        Status.PASS,
        "This host is a container of another runtime (systemd-nspawn, OpenVZ, rkt, proot ...) or of one that "
        "could not be identified.",
        "Container evidence was found that names no runtime dtdoctor has a code for; details name it." + _EEC_NOTE,
        summary="{_perhaps}running in a container ({_label})" + _DECIDED,
    ),
    Code(
        "container.wsl",
        Status.PASS,
        "This host is the Windows Subsystem for Linux (WSL): not a container, but not a plain Linux host either.",
        "The kernel release names Microsoft/WSL and no container evidence was found. A OneAgent on Windows "
        "listens on the Windows loopback, which a WSL 2 distribution reaches only with mirrored networking.",
        summary="Windows Subsystem for Linux (WSL), not a container",
    ),
)

# Classify: the runtime decides the code; any other runtime is container.other.
_RUNTIME_CODES = {
    detect.NONE: "container.none",
    detect.DOCKER: "container.docker",
    detect.PODMAN: "container.podman",
    detect.KUBERNETES: "container.kubernetes",
    detect.CONTAINERD: "container.containerd",
    detect.LXC: "container.lxc",
    detect.WSL: "container.wsl",
}
_LABELS = {detect.NSPAWN: "systemd-nspawn", detect.OTHER: "an unidentified container runtime"}


# The result other probes wait for (``after``) to reuse its detection.
KEY = (ID, LOCAL)


def detect_here(ctx: RunContext) -> detect.Detection | None:
    """Detect the container runtime; None where /proc does not exist (not Linux)."""
    if not host.is_linux():
        return None
    return detect.detect_container(ctx.root, ctx.environ)


def detection(probe: ProbeContext) -> detect.Detection | None:
    """The container check's detection, for a probe that waited for ``KEY``; detected here when
    that probe shared none (the container check not selected, or it overran)."""
    found: detect.Detection | None = probe.fact(*KEY)
    return found if found is not None else detect_here(probe.run)


def weak_evidence(found: detect.Detection) -> dict[str, object]:
    """What a container verdict on weak evidence only rests on: for the details of the checks that use it."""
    sources = [item.source for item in found.evidence if item.points_to not in (None, detect.WSL)]
    return {"strength": detect.WEAK, "sources": sources}


def cannot_tell(found: detect.Detection) -> str:
    """The clause for a check that judges a host whose container evidence is weak only."""
    sources = " and ".join(weak_evidence(found)["sources"])  # type: ignore[arg-type]
    return f"{sources} alone suggests a {found.runtime} container: weak evidence, cannot tell; judged as a host"


def code_for(found: detect.Detection) -> str:
    return _RUNTIME_CODES.get(found.runtime, "container.other")


def judge(found: detect.Detection) -> Finding:
    """The code and its evidence: the detection, plus the clauses only the wording uses."""
    evidence = found.to_json()
    evidence["_label"] = _LABELS.get(found.runtime, found.runtime)
    evidence["_on"] = f" on {found.underlying}" if found.underlying else ""
    # Weak evidence alone: the other checks (oneagent, eec, clock) judge this as a host; say the same here.
    unsure = ": cannot tell; judged as a host by the other checks" if found.weak_only else ""
    evidence["_qualifiers"] = "".join(f"; {clause}" for clause in detect.qualifiers(found)) + unsure
    evidence["_perhaps"] = "perhaps " if found.weak_only else ""
    return Finding(code_for(found), details=evidence)


def probe(probe_ctx: ProbeContext) -> Finding:
    found = detect_here(probe_ctx.run)
    if found is None:
        return Finding(
            "check.unsupported",
            f"skipped: container detection reads Linux's /proc and /run; this is {host.platform_name()}",
            {"platform": host.platform_name()},
        )
    return replace(judge(found), fact=found)


def plan(ctx: RunContext) -> list[Probe]:
    return [Probe(LOCAL, probe)]


CHECK = Check(id=ID, title="Container runtime", codes=CODES, plan=plan)
