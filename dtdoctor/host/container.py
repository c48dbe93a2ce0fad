"""Is this host a container, and which runtime runs it? Pure functions over a filesystem root.

The order follows systemd's ``detect_container()`` in ``src/basic/virt.c``:
OpenVZ (``/proc/vz`` without ``/proc/bc``), WSL (``/proc/sys/kernel/osrelease``
naming Microsoft or WSL), proot (a tracer named ``proot``),
``/run/host/container-manager``, ``/run/systemd/container``, the ``container``
variable of PID 1, then the well-known files ``/run/.containerenv`` (Podman)
and ``/.dockerenv`` (Docker, last: the file can leak into an image), then a
cgroup namespace. Where systemd stops at the first hit, this module keeps
going and records every piece of evidence, so a result always shows why.

Two deliberate differences from systemd:
- WSL is decided last, not first: Docker Desktop runs its containers on a WSL
  kernel, and for dtdoctor a container there is a container.
- cgroup v1 paths (``/docker/``, ``/lxc/``, ``kubepods``, containerd,
  libpod; Ansible's ``facts/virtual/linux.py`` uses the same patterns), the
  overlay root in ``/proc/self/mountinfo`` and Kubernetes' service variables and
  service-account mount add evidence systemd does not look at. Kubernetes wins
  over the runtime underneath; that runtime is still reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

NONE = "none"
DOCKER = "docker"
PODMAN = "podman"
KUBERNETES = "kubernetes"
CONTAINERD = "containerd"
LXC = "lxc"
NSPAWN = "systemd-nspawn"
OPENVZ = "openvz"
WSL = "wsl"
OTHER = "other"

STRONG = "strong"
WEAK = "weak"
NEGATIVE = "absent"  # looked for, not there: evidence for "not a container"

# systemd's container_table, plus names other managers are known to write.
_MANAGER_NAMES = {
    "lxc": LXC,
    "lxc-libvirt": LXC,
    "systemd-nspawn": NSPAWN,
    "docker": DOCKER,
    "podman": PODMAN,
    "rkt": "rkt",
    "wsl": WSL,
    "proot": "proot",
    "pouch": "pouch",
    "containerd": CONTAINERD,
    "crio": "cri-o",
    "cri-o": "cri-o",
}

# cgroup path fragments and the runtime they betray, most specific first.
_CGROUP_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"kubepods"), KUBERNETES),
    (re.compile(r"libpod"), PODMAN),
    (re.compile(r"/docker[/-]|docker-[0-9a-f]{12,}\.scope"), DOCKER),
    (re.compile(r"containerd"), CONTAINERD),
    (re.compile(r"/lxc[/.]|lxc\.payload"), LXC),
    (re.compile(r"/machine\.slice/machine-"), NSPAWN),
)

# Overlay upper/lower directories and the runtime that keeps its layers there.
_OVERLAY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("/var/lib/docker/", DOCKER),
    ("/var/lib/containers/storage/", PODMAN),
    ("containerd", CONTAINERD),
    ("/var/lib/rancher/", CONTAINERD),
    ("/var/lib/lxc/", LXC),
)

SERVICE_ACCOUNT_PATHS = ("/var/run/secrets/kubernetes.io/serviceaccount", "/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Evidence:
    """One observation: where it was made, what was seen, what it points to."""

    source: str  # a path or an environment variable
    observed: str
    points_to: str | None  # a runtime, or None when it speaks for "no container"
    strength: str  # STRONG, WEAK or NEGATIVE

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "observed": self.observed,
            "points_to": self.points_to,
            "strength": self.strength,
        }


@dataclass(frozen=True)
class Detection:
    """The verdict: the runtime, the evidence that decided it, and all evidence seen.

    ``runtime`` is ``none`` for a plain host and ``wsl`` for WSL without a
    container; ``underlying`` is the runtime below Kubernetes when known.
    """

    runtime: str
    decided_by: Evidence | None
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    underlying: str | None = None
    wsl: bool = False

    @property
    def is_container(self) -> bool:
        return self.runtime not in (NONE, WSL)

    @property
    def weak_only(self) -> bool:
        """Only weak evidence points to a container (``/.dockerenv`` alone, an overlay root)."""
        positive = [item for item in self.evidence if item.points_to is not None and item.points_to != WSL]
        return self.is_container and all(item.strength == WEAK for item in positive)

    def to_json(self) -> dict[str, object]:
        return {
            "runtime": self.runtime if self.is_container else None,
            "detected": self.runtime,
            "decided_by": self.decided_by.to_json() if self.decided_by else None,
            "underlying_runtime": self.underlying,
            "wsl": self.wsl,
            "weak_evidence_only": self.weak_only,
            "evidence": [item.to_json() for item in self.evidence],
        }


def _under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


def _exists(root: Path, absolute: str) -> bool:
    try:
        return _under(root, absolute).exists()
    except OSError:
        return False


def _read(root: Path, absolute: str, limit: int = 65536) -> str | None:
    """A file's text, or None when missing or unreadable (e.g. /proc/1/environ without root)."""
    try:
        with _under(root, absolute).open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


def _first_line(root: Path, absolute: str) -> str | None:
    text = _read(root, absolute)
    if text is None:
        return None
    return text.splitlines()[0].strip() if text.strip() else ""


def manager_runtime(name: str) -> str:
    """A container manager's name (the ``container`` variable) as a runtime."""
    return _MANAGER_NAMES.get(name.strip().lower(), OTHER)


def pid1_container_variable(root: Path) -> tuple[str | None, str]:
    """PID 1's ``container`` variable from ``/proc/1/environ``; (value, note)."""
    text = _read(root, "/proc/1/environ")
    if text is None:
        if _exists(root, "/proc/1"):
            return None, "not readable (needs root or CAP_SYS_PTRACE)"
        return None, "missing"
    for entry in text.split("\0"):
        name, sep, value = entry.partition("=")
        if sep and name == "container":
            return value, "set"
    return None, "not set"


def cgroup_evidence(root: Path) -> list[Evidence]:
    """Runtime names in the cgroup paths of PID 1 and of this process (cgroup v1 and v2)."""
    found: list[Evidence] = []
    for source in ("/proc/1/cgroup", "/proc/self/cgroup"):
        text = _read(root, source)
        if text is None:
            continue
        hit = False
        for line in text.splitlines():
            path = line.split(":", 2)[-1]
            for pattern, runtime in _CGROUP_PATTERNS:
                if pattern.search(path):
                    found.append(Evidence(source, line.strip(), runtime, STRONG))
                    hit = True
                    break
            if hit:
                break
    return found


def cgroup_namespace_evidence(root: Path) -> Evidence | None:
    """systemd's ``running_in_cgroupns()``: is /sys/fs/cgroup the root of a cgroup namespace?"""
    if _exists(root, "/sys/fs/cgroup/cgroup.controllers"):  # cgroup v2 only ("all unified")
        if not _exists(root, "/sys/fs/cgroup/cgroup.events"):
            return None  # the real root cgroup has no cgroup.events
        if _exists(root, "/sys/fs/cgroup/cgroup.type"):
            observed = "cgroup v2 mounted at a nested cgroup (cgroup.events and cgroup.type present)"
            return Evidence("/sys/fs/cgroup", observed, OTHER, STRONG)
        if not _exists(root, "/sys/kernel/cgroup/features"):
            return Evidence("/sys/fs/cgroup", "cgroup.events present on an old kernel: nested cgroup", OTHER, STRONG)
        return None
    if _exists(root, "/sys/fs/cgroup/systemd") and not _exists(root, "/sys/fs/cgroup/systemd/release_agent"):
        # release_agent exists only in the root cgroup of a v1 hierarchy.
        return Evidence("/sys/fs/cgroup/systemd", "cgroup v1 hierarchy without release_agent: nested", OTHER, STRONG)
    return None


def namespaced_root_cgroup(root: Path) -> Evidence | None:
    """This process sits in ``0::/`` and nothing else: typical inside a cgroup v2 namespace."""
    text = _read(root, "/proc/self/cgroup")
    if text is None:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines == ["0::/"]:
        # Weak: a host without a cgroup manager also keeps everything in the root.
        return Evidence("/proc/self/cgroup", "0::/ (root of a cgroup v2 namespace)", OTHER, WEAK)
    return None


def root_mount(root: Path) -> tuple[str, str] | None:
    """The root filesystem's type and mount options from ``/proc/self/mountinfo``."""
    text = _read(root, "/proc/self/mountinfo", limit=1 << 20)
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[4] != "/" or "-" not in fields:
            continue
        separator = fields.index("-")
        fstype = fields[separator + 1] if len(fields) > separator + 1 else ""
        return fstype, " ".join(fields[separator + 2 :])
    return None


def overlay_root_evidence(root: Path) -> Evidence | None:
    """The root filesystem is an overlay: a container image's layers."""
    mount = root_mount(root)
    if mount is None or mount[0] != "overlay":
        return None
    runtime = next((name for marker, name in _OVERLAY_PATTERNS if marker in mount[1]), OTHER)
    # Weak: live systems and some appliances boot from an overlay root too.
    observed = "root filesystem is overlay" + (f" with layers of {runtime}" if runtime != OTHER else "")
    return Evidence("/proc/self/mountinfo", observed, runtime, WEAK)


def root_filesystem_type(root: Path) -> str | None:
    mount = root_mount(root)
    return mount[0] or None if mount is not None else None


def kubernetes_evidence(root: Path, environ: Mapping[str, str]) -> list[Evidence]:
    found: list[Evidence] = []
    if environ.get("KUBERNETES_SERVICE_HOST"):
        # Weak alone: anyone can set a variable; strong together with the mount.
        found.append(Evidence("KUBERNETES_SERVICE_HOST", "set", KUBERNETES, WEAK))
    for path in SERVICE_ACCOUNT_PATHS:
        if _exists(root, path):
            found.append(Evidence(path, "service-account mount present", KUBERNETES, STRONG))
            break
    return found


def wsl_evidence(root: Path) -> Evidence | None:
    # The "official" way of detecting WSL (systemd cites microsoft/WSL#423).
    release = _first_line(root, "/proc/sys/kernel/osrelease")
    if release and ("Microsoft" in release or "WSL" in release or "microsoft" in release):
        return Evidence("/proc/sys/kernel/osrelease", release, WSL, STRONG)
    return None


def proot_evidence(root: Path) -> Evidence | None:
    status = _read(root, "/proc/self/status")
    if not status:
        return None
    match = re.search(r"^TracerPid:\s*(\d+)", status, re.MULTILINE)
    if not match or match.group(1) == "0":
        return None
    comm = _first_line(root, f"/proc/{match.group(1)}/comm")
    if comm and comm.startswith("proot"):
        return Evidence(f"/proc/{match.group(1)}/comm", comm, "proot", STRONG)
    return None


def _files_evidence(root: Path) -> list[Evidence]:
    found: list[Evidence] = []
    if _exists(root, "/run/.containerenv"):
        found.append(Evidence("/run/.containerenv", "present", PODMAN, STRONG))
    if _exists(root, "/.dockerenv"):
        # systemd checks it last: the file can end up inside an image by accident.
        found.append(Evidence("/.dockerenv", "present", DOCKER, WEAK))
    return found


@dataclass
class _Seen:
    """Evidence as it is gathered, in systemd's order; ``decisive`` items can decide the runtime."""

    evidence: list[Evidence] = field(default_factory=list)
    decisive: list[Evidence] = field(default_factory=list)

    def add(self, item: Evidence | None, decides: bool = False) -> None:
        if item is not None:
            self.evidence.append(item)
            if decides:
                self.decisive.append(item)


def openvz_evidence(root: Path) -> Evidence | None:
    if _exists(root, "/proc/vz") and not _exists(root, "/proc/bc"):
        return Evidence("/proc/vz", "present without /proc/bc", OPENVZ, STRONG)
    return None


def manager_evidence(source: str, value: str, strength: str) -> Evidence:
    """What a ``container=`` value written by a container manager says."""
    if not value:
        return Evidence(source, "container= (empty: not a container)", None, NEGATIVE)
    if value.strip().lower() == "oci":
        # Some images hardcode container=oci; systemd then looks at the files.
        return Evidence(source, f"container={value}", OTHER, WEAK)
    return Evidence(source, f"container={value}", manager_runtime(value), strength)


def _managers(root: Path, environ: Mapping[str, str], seen: _Seen) -> None:
    """The manager's own files, then PID 1's ``container`` variable, then ours."""

    def manager(source: str, value: str, strength: str) -> None:
        item = manager_evidence(source, value, strength)
        seen.add(item, decides=item.strength == STRONG)

    for path in ("/run/host/container-manager", "/run/systemd/container"):
        value = _first_line(root, path)
        if value:
            manager(path, value, STRONG)
        else:
            seen.add(Evidence(path, "absent", None, NEGATIVE))
    pid1_value, pid1_note = pid1_container_variable(root)
    if pid1_value is not None:
        manager("/proc/1/environ", pid1_value, STRONG)
        return
    seen.add(Evidence("/proc/1/environ", f"container variable {pid1_note}", None, NEGATIVE))
    # Our own environment usually inherits PID 1's variable; weaker, since it can be set by hand.
    own = environ.get("container")
    if own is not None:
        manager("environment variable container", own, STRONG if own.strip() else WEAK)


def _files(root: Path, seen: _Seen) -> None:
    files = _files_evidence(root)
    for item in files:
        seen.add(item, decides=True)
    for path in ("/run/.containerenv", "/.dockerenv"):
        if not any(item.source == path for item in files):
            seen.add(Evidence(path, "absent", None, NEGATIVE))


def _cgroups(root: Path, seen: _Seen) -> list[Evidence]:
    """The cgroup evidence; returns the paths that name Kubernetes (they decide apart)."""
    cgroups = cgroup_evidence(root)
    for item in cgroups:
        seen.add(item, decides=item.points_to != KUBERNETES)
    if not cgroups:
        seen.add(Evidence("/proc/1/cgroup, /proc/self/cgroup", "no container runtime in the paths", None, NEGATIVE))
    seen.add(cgroup_namespace_evidence(root), decides=True)
    seen.add(namespaced_root_cgroup(root))
    return [item for item in cgroups if item.points_to == KUBERNETES]


def _root_filesystem(root: Path, seen: _Seen) -> None:
    overlay = overlay_root_evidence(root)
    if overlay is not None:
        seen.add(overlay, decides=True)
        return
    fstype = root_filesystem_type(root)
    if fstype:
        seen.add(Evidence("/proc/self/mountinfo", f"root filesystem is {fstype}", None, NEGATIVE))


def _kubernetes(root: Path, environ: Mapping[str, str], cgroups: list[Evidence], seen: _Seen) -> list[Evidence]:
    kubernetes = kubernetes_evidence(root, environ) + cgroups
    if not any(item.source == "KUBERNETES_SERVICE_HOST" for item in kubernetes):
        seen.add(Evidence("KUBERNETES_SERVICE_HOST", "not set", None, NEGATIVE))
    if not any(item.source in SERVICE_ACCOUNT_PATHS for item in kubernetes):
        seen.add(Evidence(SERVICE_ACCOUNT_PATHS[0], "absent", None, NEGATIVE))
    for item in kubernetes:
        if item not in seen.evidence:
            seen.add(item)
    return kubernetes


def detect_container(root: Path, environ: Mapping[str, str]) -> Detection:
    """Detect the container runtime under ``root`` with the environment ``environ``."""
    seen = _Seen()
    seen.add(openvz_evidence(root), decides=True)
    wsl = wsl_evidence(root)
    seen.add(wsl)
    seen.add(proot_evidence(root), decides=True)
    _managers(root, environ, seen)
    _files(root, seen)
    kubernetes_cgroups = _cgroups(root, seen)
    _root_filesystem(root, seen)
    kubernetes = _kubernetes(root, environ, kubernetes_cgroups, seen)
    return decide(seen.decisive, kubernetes, wsl, tuple(seen.evidence))


def _underlying_item(decisive: list[Evidence]) -> Evidence | None:
    """A specific runtime beats "some container" (cgroup namespace, overlay, container=oci),
    and strong evidence beats weak (/.dockerenv can sit in any image)."""
    specific = [item for item in decisive if item.points_to not in (None, OTHER)]
    ranked = [item for item in specific if item.strength == STRONG] + [i for i in specific if i.strength != STRONG]
    return ranked[0] if ranked else (decisive[0] if decisive else None)


def decide(
    decisive: list[Evidence], kubernetes: list[Evidence], wsl: Evidence | None, evidence: tuple[Evidence, ...]
) -> Detection:
    """The runtime from the evidence: Kubernetes over what runs it, then the best decisive item, then WSL."""
    underlying_item = _underlying_item(decisive)
    pod = _kubernetes_evidence(kubernetes, underlying_item)
    if pod is not None:
        return Detection(KUBERNETES, pod, evidence, _below_kubernetes(underlying_item), wsl is not None)
    if underlying_item is not None and underlying_item.points_to:
        if underlying_item.points_to == WSL:  # container=wsl written by a manager: WSL, not a container
            return Detection(WSL, underlying_item, evidence, None, True)
        return Detection(underlying_item.points_to, underlying_item, evidence, None, wsl is not None)
    if wsl is not None:
        return Detection(WSL, wsl, evidence, None, True)
    return Detection(NONE, None, evidence, None, False)


def _kubernetes_evidence(kubernetes: list[Evidence], underlying_item: Evidence | None) -> Evidence | None:
    """What makes this a pod: strong Kubernetes evidence, or weak evidence inside some container."""
    strong = [item for item in kubernetes if item.strength == STRONG]
    if strong:
        return strong[0]
    return kubernetes[0] if kubernetes and underlying_item is not None else None


def _below_kubernetes(item: Evidence | None) -> str | None:
    """The runtime under Kubernetes, when the evidence names a specific one."""
    runtime = item.points_to if item is not None else None
    return None if runtime in (KUBERNETES, OTHER) else runtime


def qualifiers(detection: Detection) -> list[str]:
    """What weakens or colours a container verdict, one clause each."""
    clauses = []
    if detection.weak_only:
        clauses.append("weak evidence only")
    if detection.wsl and detection.is_container:
        clauses.append("on a WSL kernel, e.g. Docker Desktop")
    return clauses
