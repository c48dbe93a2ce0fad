"""``truststore``: is there a system trust store, what does it hold, and does it hold what Dynatrace needs?

One result, target ``local``. Measure, judge, word:

1. Measure (``StoreFacts``): where the system CA bundle is (``SSL_CERT_FILE`` /
   ``SSL_CERT_DIR`` first, then each distribution's path), the package that
   installed it and the date of its Mozilla list (``host/ca_package.py``), and
   its content against Mozilla's list as certifi ships it (``net/roots.py``):
   roots missing, expired roots, roots Mozilla removed. Per HTTPS endpoint,
   read from the ``tls`` result the runner waited for and the handshakes it
   carries as its fact: how each store judged it and the root its chain needs.
2. Judge (``RULES``): the first rule that holds gives the code; every other
   that holds is named too.
3. Word: each code's clause and remediation, from the facts.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dtdoctor.checks import tls
from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult, Status
from dtdoctor.host import ca_package
from dtdoctor.host.facts import os_release
from dtdoctor.net import certs, roots, tls_probe, trust

ID = "truststore"

STALE_AFTER_DAYS = 365
# A summary is one short line: it is what `-q`, Nagios' first line and the fleet view show. The store,
# every root and every endpoint are in the details.
SUMMARY_MAX = 200

CODES = codes(
    Code(
        "truststore.ok",
        Status.PASS,
        "A system trust store exists, holds every root of Mozilla's current list (as certifi ships it) and no "
        "expired or removed one, and every reached HTTPS endpoint's root is in it.",
    ),
    Code(
        "truststore.root_missing",
        Status.FAIL,
        "An HTTPS endpoint's certificate chain ends at a root the system store lacks: OneAgent, curl and every "
        "client using the system store cannot verify it.",
        "An outdated ca-certificates package (the root was added to Mozilla's list later), or a store reduced "
        "by hand. certifi's bundle, when it has the root, trusts the endpoint: the two disagree.",
        "Add the root the details name to the system store (Debian/Ubuntu/Alpine: copy it to "
        "/usr/local/share/ca-certificates/ and run `update-ca-certificates`; RHEL: /etc/pki/ca-trust/source/anchors/ "
        "and `update-ca-trust`; SUSE: /etc/pki/trust/anchors/ and `update-ca-certificates`), or upgrade "
        "ca-certificates when a newer package has it; for dtdoctor alone, pass it with --ca-bundle.",
    ),
    Code(
        "truststore.outdated",
        Status.WARN,
        "The system store differs from Mozilla's current list: roots are missing (no reached endpoint needs "
        "them), or expired or removed roots are still trusted.",
        "The ca-certificates package is older than certifi's list, or the distribution's newest package is "
        "(a stable release keeps its list); removed roots stay trusted until the package drops them.",
        "Upgrade ca-certificates (`apt-get install --only-upgrade ca-certificates`, `dnf update ca-certificates`, "
        "`apk upgrade ca-certificates`, `zypper update ca-certificates`). Where it is already the newest: a "
        "backported package, certifi for Python clients (`pip install -U certifi`), or the needed roots added "
        "by hand; deselect expired or removed roots (Debian: `!` before their line in /etc/ca-certificates.conf, "
        "then `update-ca-certificates`).",
    ),
    Code(
        "truststore.stale",
        Status.WARN,
        "certifi's Mozilla list, the reference the store is judged by, is more than a year old; or the store "
        "cannot be read root by root and its package is more than a year old.",
        "certifi (or the ca-certificates package) has not been updated.",
        "Update certifi (`pip install -U certifi`) and the ca-certificates package of the distribution.",
    ),
    Code(
        "truststore.missing",
        Status.FAIL,
        "No system trust store was found: no HTTPS certificate can be verified.",
        "A minimal container image without the ca-certificates package, or SSL_CERT_FILE / SSL_CERT_DIR "
        "pointing to a path that does not exist.",
        "Install the ca-certificates package (Debian/Ubuntu `apt-get install ca-certificates`, RHEL "
        "`dnf install ca-certificates`, Alpine `apk add ca-certificates`), or fix SSL_CERT_FILE.",
    ),
    Code(
        "truststore.disagree",
        Status.WARN,
        "The system trust store trusts an endpoint that certifi's bundle rejects.",
        "A private or inspecting CA installed only in the system store: clients that ship certifi fail.",
        "Point Python clients at the system bundle (SSL_CERT_FILE, REQUESTS_CA_BUNDLE) or add the CA to "
        "their configuration.",
    ),
)

_UPDATE_COMMANDS = {
    "debian": "apt-get update && apt-get install --only-upgrade ca-certificates",
    "rhel": "dnf update ca-certificates && update-ca-trust",
    "alpine": "apk upgrade ca-certificates && update-ca-certificates",
    "suse": "zypper update ca-certificates && update-ca-certificates",
}
_INSTALL_COMMANDS = {
    "debian": "apt-get update && apt-get install ca-certificates",
    "rhel": "dnf install ca-certificates && update-ca-trust",
    "alpine": "apk add ca-certificates",
    "suse": "zypper install ca-certificates",
}
# Where a family's administrator adds a CA, and the command that puts it in the store.
_ADD_ROOT = {
    "debian": ("/usr/local/share/ca-certificates/<name>.crt", "update-ca-certificates"),
    "alpine": ("/usr/local/share/ca-certificates/<name>.crt", "update-ca-certificates"),
    "rhel": ("/etc/pki/ca-trust/source/anchors/<name>.pem", "update-ca-trust"),
    "suse": ("/etc/pki/trust/anchors/<name>.pem", "update-ca-certificates"),
}


def distribution_family(release: dict[str, str]) -> str | None:
    """debian, rhel, alpine or suse from /etc/os-release's ID and ID_LIKE."""
    words = (release.get("ID", "") + " " + release.get("ID_LIKE", "")).lower().split()
    for family, members in (
        ("debian", ("debian", "ubuntu")),
        ("rhel", ("rhel", "fedora", "centos", "rocky", "almalinux", "amzn", "ol")),
        ("alpine", ("alpine",)),
        ("suse", ("suse", "opensuse", "sles", "opensuse-leap", "opensuse-tumbleweed")),
    ):
        if any(word in members for word in words):
            return family
    return None


# --- measure ------------------------------------------------------------------


@dataclass(frozen=True)
class StoreIdentity:
    """The store, its package and certifi's list: what is known before any root is parsed."""

    family: str | None
    os_name: str
    locations: list[trust.StoreLocation]
    store: trust.StoreLocation | None
    package: ca_package.PackageRecord | None
    certifi_version: str
    certifi_day: datetime.date | None


@dataclass(frozen=True)
class StoreFacts(StoreIdentity):
    """Everything local the verdict reads: the store's identity, and its roots against Mozilla's list."""

    newest: ca_package.Newest
    system_roots: dict[str, roots.Root] | None  # None: not readable root by root (the OS verifier)
    mozilla_roots: dict[str, roots.Root]
    content: roots.Content | None
    today: datetime.date

    def age(self, day: datetime.date | None) -> int | None:
        return None if day is None else (self.today - day).days


def _system_roots(ctx: RunContext, store: trust.StoreLocation | None) -> dict[str, roots.Root] | None:
    if store is None or store.kind == "os":
        return None
    path = ctx.root / store.path.lstrip("/")
    return roots.read_bundle(path) if store.kind == "file" else roots.read_directory(path)


def _package_of(
    ctx: RunContext, family: str | None, store: trust.StoreLocation | None
) -> ca_package.PackageRecord | None:
    if store is None or store.kind == "os":
        return None
    return ca_package.installed(ctx.root, family, ctx.timeout)


def _mozilla_roots(system: dict[str, roots.Root] | None) -> dict[str, roots.Root]:
    """certifi's bundle; the roots the system store also holds are not parsed again."""
    import certifi

    return roots.read_bundle(Path(certifi.where()), reuse=system)


def identify_store(ctx: RunContext, platform: str) -> StoreIdentity:
    release = os_release(ctx.root)
    family = distribution_family(release)
    locations = trust.locate_system_store(ctx.root, ctx.environ, platform)
    usable = [spot for spot in locations if not spot.problem and (spot.roots or spot.kind == "os")]
    store = usable[0] if usable else None
    version, certifi_day = trust.certifi_date()
    return StoreIdentity(family, release.get("PRETTY_NAME") or release.get("ID") or platform, locations, store,
                         _package_of(ctx, family, store), version, certifi_day)


def measure_store(
    ctx: RunContext, platform: str, now: datetime.datetime, identity: StoreIdentity | None = None
) -> StoreFacts:
    found = identity or identify_store(ctx, platform)
    system = _system_roots(ctx, found.store)
    mozilla = _mozilla_roots(system)
    content = None if system is None else roots.compare(system, mozilla, roots.local_additions(ctx.root), now)
    return StoreFacts(**vars(found), newest=ca_package.Newest(False), system_roots=system, mozilla_roots=mozilla,
                      content=content, today=now.date())


@dataclass(frozen=True)
class EndpointTrust:
    """How the two stores judged one endpoint, and the root its chain needs, from its ``tls`` result."""

    address: str
    verdicts: dict[str, str] = field(default_factory=dict)
    root: str = ""  # the subject of the root the presented chain needs
    root_sha256: str = ""  # when the server sent the root itself, or a store holds it
    in_system: bool | None = None  # None: the store cannot be read root by root
    in_certifi: bool = False
    not_compared: str = ""

    @property
    def system_trusts(self) -> bool:
        return self.verdicts.get(trust.SYSTEM) == "trusted"

    @property
    def certifi_trusts(self) -> bool:
        return self.verdicts.get(trust.CERTIFI) == "trusted"

    @property
    def root_missing(self) -> bool:
        """The system store rejects it and lacks the root that certifi trusts it by."""
        return not self.not_compared and not self.system_trusts and self.certifi_trusts and not self.in_system

    @property
    def private_ca(self) -> bool:
        return not self.not_compared and self.system_trusts and _rejected(self.verdicts.get(trust.CERTIFI, ""))

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"endpoint": self.address, **self.verdicts}
        if self.root:
            found.update(root=self.root, in_system_store=self.in_system, in_certifi=self.in_certifi)
        if self.root_sha256:
            found["root_sha256"] = self.root_sha256
        if self.not_compared:
            found["not_compared"] = self.not_compared
        return found


def _rejected(verdict: str) -> bool:
    return verdict.startswith("rejected")


def _chain_facts(found: tls_probe.Assessment) -> list[certs.CertFacts]:
    presented = found.presented
    parsed = []
    for der in presented.chain if presented is not None else ():
        try:
            parsed.append(certs.cert_facts(der))
        except ValueError:
            continue
    return parsed


def needed_root(chain: list[certs.CertFacts], known: set[str]) -> str:
    """The subject of the root the presented chain is anchored at.

    OpenSSL tries trusted certificates first: the chain ends at the first
    certificate (from the leaf up) whose subject, or else whose issuer, is a
    known root's subject. A cross-signed intermediate named like a root thus
    points at that root, not at the old root that cross-signed it. Without a
    known name, the top certificate's issuer (or itself, when the server sent
    a root).
    """
    for index, cert in enumerate(chain):
        if index and cert.subject in known:
            return cert.subject
        if cert.issuer in known:
            return cert.issuer
    if not chain:
        return ""
    top = chain[-1]
    return top.subject if top.self_issued else top.issuer


def _by_subject(store: dict[str, roots.Root] | None, subject: str) -> list[roots.Root]:
    return [root for root in (store or {}).values() if root.subject == subject]


def _not_judged(address: str, result: CheckResult | None, found: tls_probe.Assessment | None) -> str:
    """Why the endpoint cannot be judged from its tls result; empty when it can."""
    if result is None:
        return "the tls check was not run"
    if result.status in (Status.SKIP, Status.ERROR) or found is None:
        return f"the tls check did not judge {address} ({result.code})"
    verdicts = found.store_verdicts().values()
    if len(verdicts) < 2 or not all(verdict == "trusted" or _rejected(verdict) for verdict in verdicts):
        return f"no TLS handshake with {address} to judge (see the tls result)"
    return ""


def _in_system_store(facts: StoreFacts, subject: str, system_verdict: str) -> bool:
    """Whether the system store holds the root; its own verdict says so when it cannot be read root by root."""
    if facts.system_roots is None or not subject:
        return system_verdict == "trusted"
    return bool(_by_subject(facts.system_roots, subject))


def endpoint_trust(
    address: str, result: CheckResult | None, found: tls_probe.Assessment | None, facts: StoreFacts
) -> EndpointTrust:
    """Read one endpoint's ``tls`` result and the handshakes it carries: both stores' verdicts, the root needed."""
    reason = _not_judged(address, result, found)
    judged = {store: str(verdict) for store, verdict in found.store_verdicts().items()} if found else {}
    if reason or found is None:
        return EndpointTrust(address, judged, not_compared=reason)
    known = {root.subject for root in facts.mozilla_roots.values()}
    known.update(root.subject for root in (facts.system_roots or {}).values())
    subject = needed_root(_chain_facts(found), known)
    in_system = _in_system_store(facts, subject, judged[trust.SYSTEM])
    held = _by_subject(facts.mozilla_roots, subject) or _by_subject(facts.system_roots, subject)
    in_certifi = bool(_by_subject(facts.mozilla_roots, subject))
    return EndpointTrust(address, judged, subject, held[0].sha256 if held else "", in_system, in_certifi)


# --- judge --------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    facts: StoreFacts
    endpoints: list[EndpointTrust]

    @property
    def needs_missing(self) -> list[EndpointTrust]:
        return [endpoint for endpoint in self.endpoints if endpoint.root_missing]

    @property
    def private(self) -> list[EndpointTrust]:
        return [endpoint for endpoint in self.endpoints if endpoint.private_ca]

    @property
    def reached(self) -> list[EndpointTrust]:
        return [endpoint for endpoint in self.endpoints if not endpoint.not_compared]

    def content_differs(self) -> bool:
        content = self.facts.content
        return content is not None and bool(content.missing or content.expired or content.removed)

    def stale(self) -> bool:
        certifi_age = self.facts.age(self.facts.certifi_day)
        package_age = self.facts.age(self.facts.package.date if self.facts.package else None)
        if certifi_age is not None and certifi_age > STALE_AFTER_DAYS:
            return True
        return self.facts.content is None and package_age is not None and package_age > STALE_AFTER_DAYS


# The verdict table: the first rule that holds is the code; the others that hold are named too.
RULES: tuple[tuple[str, Callable[[Evidence], bool]], ...] = (
    ("truststore.missing", lambda e: e.facts.store is None),
    ("truststore.root_missing", lambda e: bool(e.needs_missing)),
    ("truststore.outdated", Evidence.content_differs),
    ("truststore.disagree", lambda e: bool(e.private)),
    ("truststore.stale", Evidence.stale),
    ("truststore.ok", lambda e: True),
)


def classify(evidence: Evidence) -> list[str]:
    """Every code whose rule holds, in table order; the first is the verdict."""
    return [code for code, holds in RULES if holds(evidence)]


# --- word ---------------------------------------------------------------------


def _first_and_more(clauses: list[str], what: str) -> str:
    """The first clause, and how many more the details hold."""
    more = len(clauses) - 1
    return clauses[0] + (f" (and {more} more {what})" if more > 0 else "")


def _cn(subject: str) -> str:
    for part in subject.split(","):
        key, _, value = part.partition("=")
        if key.strip().upper() in ("CN", "OU", "O") and value:
            return value.strip()
    return subject


def _store_line(facts: StoreFacts) -> str:
    store = facts.store
    if store is None:
        return "no system trust store"
    if store.kind == "os":
        return f"the {store.path} is used"
    return f"{store.path} ({store.origin}) holds {store.roots} certificate(s), {_package_words(facts)}"


def _package_words(facts: StoreFacts) -> str:
    package = facts.package
    if package is None:
        return "no package date found"
    if package.date is None:
        return f"{package.label()} (no date in its version)"
    return f"{package.label()} {'built' if package.built else 'of'} {package.date.isoformat()}"


def _content_line(facts: StoreFacts) -> str:
    content = facts.content
    reference = f"certifi {facts.certifi_version}"
    if content is None:
        return f"{reference}; the store cannot be read root by root, so its content is not compared"
    counts = (
        f"{len(content.missing)} missing, {len(content.expired)} expired, "
        f"{len(content.removed)} removed by Mozilla"
    )
    local = f", {len(content.local)} added locally" if content.local else ""
    return f"against Mozilla's list in {reference} ({content.reference} roots): {counts}{local}"


def _clause_root_missing(evidence: Evidence) -> str:
    return _first_and_more([
        f"{endpoint.address} needs the root '{_cn(endpoint.root) or 'unknown'}', which the system store lacks"
        + (" (certifi has it)" if endpoint.in_certifi else "")
        for endpoint in evidence.needs_missing
    ], "endpoint(s)")


def _unneeded_missing(evidence: Evidence) -> list[roots.Root]:
    content = evidence.facts.content
    needed = {endpoint.root for endpoint in evidence.needs_missing}
    return [root for root in (content.missing if content else ()) if root.subject not in needed]


def _clause_outdated(evidence: Evidence) -> str:
    content = evidence.facts.content
    assert content is not None
    unneeded = _unneeded_missing(evidence)
    parts = [f"{len(unneeded)} root(s) of Mozilla's list missing that no reached endpoint needs"] if unneeded else []
    # Counts only: the roots themselves are in details.root_groups.
    trusted = [f"{len(group)} {label}" for label, group in (("expired", content.expired),
                                                             ("removed by Mozilla", content.removed)) if group]
    if trusted:
        parts.append(f"{' and '.join(trusted)} root(s) still trusted")
    return "; ".join(parts) or "the store differs from Mozilla's list"


def _clause_disagree(evidence: Evidence) -> str:
    return _first_and_more([
        f"the system store trusts {endpoint.address} but certifi's bundle rejects it: clients that ship certifi "
        "(pip, requests, httpx) would fail"
        for endpoint in evidence.private
    ], "endpoint(s)")


def _clause_stale(evidence: Evidence) -> str:
    facts = evidence.facts
    certifi_age = facts.age(facts.certifi_day)
    if certifi_age is not None and certifi_age > STALE_AFTER_DAYS:
        return f"certifi {facts.certifi_version} is {certifi_age} days old"
    package = facts.package
    assert package is not None
    return f"{package.label()} is {facts.age(package.date)} days old"


def _clause_missing(evidence: Evidence) -> str:
    broken = next((spot for spot in evidence.facts.locations if spot.problem), None)
    if broken is not None:
        return f"{broken.origin} points to {broken.path}, which does not exist: no trust store"
    return "no system trust store found (no CA bundle in any known location)"


_CLAUSES: dict[str, Callable[[Evidence], str]] = {
    "truststore.missing": _clause_missing,
    "truststore.root_missing": _clause_root_missing,
    "truststore.outdated": _clause_outdated,
    "truststore.disagree": _clause_disagree,
    "truststore.stale": _clause_stale,
}


def _where(endpoint: EndpointTrust) -> str:
    name = f"the root of {endpoint.address}" + (f" ('{_cn(endpoint.root)}')" if endpoint.root else "")
    stores = [label for label, held in (("the system store", endpoint.in_system), ("certifi", endpoint.in_certifi))
              if held]
    return f"{name} is in " + (" and ".join(stores) if stores else "neither store")


def _endpoint_note(evidence: Evidence) -> str:
    if not evidence.endpoints:
        return "no HTTPS endpoint configured: the content judgement stands alone"
    if not evidence.reached:
        return "no endpoint was reached: the content judgement stands alone"
    notes = [_where(endpoint) for endpoint in evidence.reached if not endpoint.root_missing]
    return _first_and_more(notes, "endpoint(s) in the details") if notes else ""


# What another verdict that also holds adds to the summary: a few words; its own clause is in the details.
_ALSO: dict[str, Callable[[Evidence], str]] = {
    "truststore.root_missing": lambda e: _first_and_more([f"{x.address} needs a root the system store lacks"
                                                          for x in e.needs_missing], "endpoint(s)"),
    "truststore.outdated": lambda e: "the store differs from Mozilla's list",
    "truststore.disagree": lambda e: _first_and_more([f"certifi's bundle rejects {x.address}, which the system "
                                                      "store trusts" for x in e.private], "endpoint(s)"),
    "truststore.stale": _clause_stale,
}


def summarize(evidence: Evidence, found: list[str]) -> str:
    """A problem's clause, a few words for each other problem, and the package (the details hold the rest);
    with no problem, the store, its content and the reached endpoints' roots."""
    if found[0] not in _CLAUSES:
        return _healthy_summary(evidence)
    also = [_ALSO[code](evidence) for code in found[1:] if code in _ALSO]
    summary = _CLAUSES[found[0]](evidence) + (f"; also {'; '.join(also)}" if also else "")
    facts = evidence.facts
    if facts.store is None:
        return summary
    package = _package_words(facts) + "; " if facts.store.kind != "os" else ""
    return f"{summary} ({package}certifi {facts.certifi_version})"


def _healthy_summary(evidence: Evidence) -> str:
    parts = [_store_line(evidence.facts), _content_line(evidence.facts), _endpoint_note(evidence)]
    return "; ".join(part for part in parts if part)


# --- remediation ---------------------------------------------------------------


def _upgrade_advice(facts: StoreFacts) -> str:
    update = _UPDATE_COMMANDS.get(facts.family or "", "update the ca-certificates package")
    package, newest = facts.package, facts.newest
    if package is not None and newest.is_installed(package):
        return (
            f"{package.label()} is already the newest package the local package metadata offers "
            f"({newest.source}): a newer list needs a backported package where the release has one; "
            "Python clients can use certifi (`pip install -U certifi`); roots an endpoint needs can be added "
            "by hand, or given to a client as a CA bundle (dtdoctor: --ca-bundle)."
        )
    if package is not None and newest.known:
        return f"Upgrade to {package.name} {newest.candidate} ({newest.source}): `{update}`."
    return f"Update the store: `{update}`."


def _add_root_advice(evidence: Evidence) -> str:
    where, command = _ADD_ROOT.get(evidence.facts.family or "", ("your distribution's CA folder", "its update tool"))
    names = ", ".join(
        f"'{_cn(e.root)}'" + (f" (SHA-256 {e.root_sha256})" if e.root_sha256 else "") for e in evidence.needs_missing
    )
    return (
        f"Add the root {names} to the system store: save it (certifi's bundle holds it: `python3 -m certifi` "
        f"prints its path) as {where} and run `{command}`; or pass it to dtdoctor with --ca-bundle."
    )


def _private_advice(evidence: Evidence) -> str:
    store = evidence.facts.store
    bundle = f"={store.path}" if store is not None and store.kind == "file" else ""
    return (
        f"The CA of {', '.join(e.address for e in evidence.private)} is only in the system store (a private or "
        f"inspecting CA): point Python tools at the system bundle (SSL_CERT_FILE{bundle}, REQUESTS_CA_BUNDLE{bundle}) "
        "or add the CA to their configuration."
    )


def _missing_advice(evidence: Evidence) -> str:
    broken = next((spot for spot in evidence.facts.locations if spot.problem), None)
    if broken is not None:
        return f"Point {broken.origin} at an existing CA bundle, or unset it to use the system default."
    install = _INSTALL_COMMANDS.get(evidence.facts.family or "", "install your distribution's ca-certificates package")
    return f"Install the CA certificates: `{install}`."


def _deselect_advice(evidence: Evidence) -> str:
    content = evidence.facts.content
    if content is None or not (content.expired or content.removed) or evidence.facts.family != "debian":
        return ""
    return (
        "Deselect expired or removed roots: `!` before their line in /etc/ca-certificates.conf, then "
        "`update-ca-certificates`."
    )


_ADVICE: dict[str, Callable[[Evidence], str]] = {
    "truststore.missing": _missing_advice,
    "truststore.root_missing": _add_root_advice,
    "truststore.outdated": lambda e: " ".join(part for part in (_upgrade_advice(e.facts), _deselect_advice(e)) if part),
    "truststore.disagree": _private_advice,
    "truststore.stale": lambda e: "Update certifi (`pip install -U certifi`). " + _upgrade_advice(e.facts),
}


def remediation(evidence: Evidence, found: list[str]) -> str | None:
    advice = [_ADVICE[code](evidence) for code in found if code in _ADVICE]
    if "truststore.root_missing" in found and "truststore.outdated" not in found:
        advice.append(_upgrade_advice(evidence.facts))
    return " ".join(dict.fromkeys(part for part in advice if part)) or None


# --- details ---------------------------------------------------------------------


def _package_details(facts: StoreFacts) -> dict[str, Any]:
    package = facts.package
    if package is None:
        if facts.store is None or facts.store.kind == "os":
            return {}
        note = "no package date found (the bundle's file time is when update-ca-* last ran)"
        return {"store_date": None, "store_date_note": note}
    found: dict[str, Any] = {"package": {"name": package.name, "version": package.version, "from": package.source}}
    if facts.newest.known:
        found["package"].update(newest_known=facts.newest.candidate, newest_from=facts.newest.source)
    if package.date is None:
        found.update(store_date=None, store_date_note=f"{package.label()} carries no date")
    else:
        found["store_date"] = {"date": package.date.isoformat(), "from": f"{package.label()} ({package.source})"}
        found["store_age_days"] = facts.age(package.date)
    return found


def _store_details(facts: StoreFacts) -> dict[str, Any]:
    details: dict[str, Any] = {"os": facts.os_name, "family": facts.family}
    details["locations"] = [
        {
            "kind": spot.kind,
            "path": spot.path,
            "origin": spot.origin,
            "roots": spot.roots,
            **({"problem": spot.problem} if spot.problem else {}),
        }
        for spot in facts.locations
    ]
    details["certifi"] = {
        "version": facts.certifi_version, "bundle": "certifi (Mozilla)", "roots": len(facts.mozilla_roots),
        "age_days": facts.age(facts.certifi_day),
    }
    if facts.store is not None:
        details.update(store=facts.store.path, store_kind=facts.store.kind)
        details.update({"roots": facts.store.roots} if facts.store.kind != "os" else {})
    details.update(_package_details(facts))
    return details


def _content_details(evidence: Evidence) -> dict[str, Any]:
    content = evidence.facts.content
    if content is None:
        return {}
    other_missing = _unneeded_missing(evidence)
    needed_missing = [root for root in content.missing if root not in other_missing]
    # What matters first: roots an endpoint needs, then roots the store should not trust, then the rest.
    groups = {
        "missing_needed": needed_missing,
        "expired": list(content.expired),
        "removed": list(content.removed),
        "missing": other_missing,
        "local": list(content.local),
    }
    return {
        "content": {"counts": content.counts()},
        "roots": {name: [root.to_json() for root in group] for name, group in groups.items() if group},
    }


def details_of(evidence: Evidence, found: list[str]) -> dict[str, Any]:
    details = _store_details(evidence.facts)
    counted = _content_details(evidence)
    if counted:
        details["content"] = counted["content"]
        details["root_groups"] = counted["roots"]
    details["stores"] = {endpoint.address: endpoint.to_json() for endpoint in evidence.endpoints}
    details["also"] = [code for code in found[1:] if code != "truststore.ok"]
    if not evidence.reached:
        details["content_judgement"] = "stands alone: no endpoint reached"
    return details


# --- the probe -----------------------------------------------------------------------


def probe_local(ctx: RunContext, platform: str, today: datetime.date) -> Finding:
    """The store alone, with no endpoint (kept for callers that judge only the host)."""
    return judge(Evidence(measure_store(ctx, platform, _noon(today)), []), ctx)


def _noon(day: datetime.date) -> datetime.datetime:
    if day == datetime.date.today():
        return certs.utc_now()
    return datetime.datetime(day.year, day.month, day.day, 12, tzinfo=datetime.timezone.utc)


# Verdicts whose advice depends on whether a newer package exists: only these read the package lists.
_ASKS_FOR_NEWEST = ("truststore.root_missing", "truststore.outdated", "truststore.stale")


def judge(evidence: Evidence, ctx: RunContext, newest: ca_package.Newest | None = None) -> Finding:
    """The verdict; ``newest`` is the package lists' answer when it was read ahead, else read here if needed."""
    found = classify(evidence)
    facts = evidence.facts
    if found[0] in _ASKS_FOR_NEWEST and facts.package is not None:
        if newest is None:
            newest = ca_package.newest(ctx.root, facts.family, facts.package.version, ctx.timeout)
        evidence = Evidence(dataclasses.replace(facts, newest=newest), evidence.endpoints)
    return Finding(
        found[0], summarize(evidence, found), details_of(evidence, found), remediation=remediation(evidence, found)
    )


@dataclass(frozen=True)
class Prepared:
    """The store's facts, read before the tls results are in, and the package lists' answer when the store
    alone already calls for it (``None``: not read yet)."""

    facts: StoreFacts
    newest: ca_package.Newest | None


def prepare_store(ctx: RunContext, platform: str, today: datetime.date) -> Prepared:
    """Everything that needs no endpoint: the store, its content, and (for an outdated or stale store, whatever
    the endpoints show) the newest package the lists offer."""
    identity = identify_store(ctx, platform)
    ahead = _read_ahead(ctx, identity)
    try:
        facts = measure_store(ctx, platform, _noon(today), identity)
    except BaseException:
        if ahead is not None:
            ahead.cancel()  # nothing will ask for its answer: stop reading (and end apt-helper) now
        raise
    alone = Evidence(facts, [])
    package = facts.package
    if package is None or not (alone.content_differs() or alone.stale()):
        if ahead is not None:
            ahead.cancel()
        return Prepared(facts, None)
    if ahead is not None:
        return Prepared(facts, ahead.result())
    return Prepared(facts, ca_package.newest(ctx.root, facts.family, package.version, ctx.timeout))


def _read_ahead(ctx: RunContext, identity: StoreIdentity) -> ca_package.Ahead | None:
    """The package lists, read alongside the roots when the store's package is older than certifi's list.

    Its content then differs from Mozilla's list (unless no root changed in between), and the advice needs
    the lists; reading them is mostly decompression and memmem without the GIL, while parsing the roots
    holds it. When the content turns out the same, the reading is stopped.
    """
    package, reference = identity.package, identity.certifi_day
    if package is None or package.date is None or reference is None or package.date >= reference:
        return None
    if not ca_package.has_local_metadata(identity.family):
        return None
    return ca_package.Ahead(ctx.root, identity.family, package.version, ctx.timeout)


def probe_trust(endpoints: list[Endpoint], probe: ProbeContext, platform: str, today: datetime.date) -> Finding:
    """The one ``local`` result: the store, its content, and what the reached endpoints need of it."""
    prepared = probe.prepared()
    if not isinstance(prepared, Prepared):  # called outside a runner
        prepared = prepare_store(probe.run, platform, today)
    facts = prepared.facts
    judged = [
        endpoint_trust(e.address, probe.result(tls.ID, e.address), probe.fact(tls.ID, e.address), facts)
        for e in endpoints
    ]
    return judge(Evidence(facts, judged), probe.run, prepared.newest)


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = tls.https_endpoints(ctx)
    today = datetime.date.today()
    return [
        Probe(
            LOCAL,
            lambda probe: probe_trust(endpoints, probe, sys.platform, today),
            # Read each endpoint's tls result, whatever its status: a failing one is often what the store explains.
            after=tuple((tls.ID, endpoint.address) for endpoint in endpoints),
            budget=3.0,
            # The store's own facts wait for no endpoint: read them while the handshakes run.
            prepare=lambda run: prepare_store(run, sys.platform, today),
        )
    ]


CHECK = Check(id=ID, title="Certificate trust stores", codes=CODES, plan=plan)
