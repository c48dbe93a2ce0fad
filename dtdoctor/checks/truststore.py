"""``truststore``: is there a system trust store, is it fresh, and do the two stores agree?

One result, target ``local``: where the system CA bundle is
(``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` first, then each distribution's path),
how many roots it holds, how old it and certifi's bundle are, and whether the
system store and certifi's Mozilla bundle judge every HTTPS endpoint alike.
The handshakes are the ``tls`` check's: the probe waits for the ``tls``
results and reuses the handshakes they carry as their fact; it does them
itself only when ``tls`` is not selected. Precedence: missing > stale > disagree > ok; when a lower one also
applies, the summary and details still name it.
"""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass
from typing import Any

from dtdoctor.checks import proxy as proxy_check
from dtdoctor.checks import tls
from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, ProbeContext, ResultKey
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult, Status
from dtdoctor.host.facts import os_release
from dtdoctor.net import tls_probe, trust

ID = "truststore"

STALE_AFTER_DAYS = 365

CODES = codes(
    Code(
        "truststore.ok",
        Status.PASS,
        "A system trust store exists, it and certifi's bundle are less than a year old, and both judge "
        "every HTTPS endpoint alike.",
    ),
    Code(
        "truststore.stale",
        Status.WARN,
        "The system trust store or certifi's bundle is more than a year old.",
        "The ca-certificates package (or certifi) has not been updated; newer root CAs are missing and "
        "endpoints that moved to them will fail to verify.",
        "Update the trust store: Debian/Ubuntu `apt-get install --only-upgrade ca-certificates`, RHEL "
        "`dnf update ca-certificates && update-ca-trust`, Alpine `apk upgrade ca-certificates`, SUSE "
        "`zypper update ca-certificates`; certifi: `pip install -U certifi`.",
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
        "The system trust store and certifi's bundle judge an endpoint differently.",
        "A private or inspecting CA installed only in the system store (certifi users fail), or an outdated "
        "system store that lacks a root certifi has (system-store users fail).",
        "Make the store that rejects the endpoint trust its CA (details name it), or point clients at the "
        "other store (SSL_CERT_FILE, REQUESTS_CA_BUNDLE).",
    ),
)

_UPDATE_COMMANDS = {
    "debian": "apt-get update && apt-get install --only-upgrade ca-certificates && update-ca-certificates",
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


def probe_local(ctx: RunContext, platform: str, today: datetime.date) -> Finding:
    release = os_release(ctx.root)
    family = distribution_family(release)
    details: dict[str, Any] = {"os": release.get("PRETTY_NAME") or release.get("ID") or platform}
    version, certifi_day = trust.certifi_date()
    details["certifi"] = {"version": version, "bundle": "certifi (Mozilla)"}
    locations = trust.locate_system_store(ctx.root, ctx.environ, platform)
    details["locations"] = [
        {
            "kind": location.kind,
            "path": location.path,
            "origin": location.origin,
            "roots": location.roots,
            "modified": location.modified.strftime("%Y-%m-%d") if location.modified else None,
            **({"problem": location.problem} if location.problem else {}),
        }
        for location in locations
    ]
    usable = [location for location in locations if not location.problem and (location.roots or location.kind == "os")]
    if not usable:
        broken = next((location for location in locations if location.problem), None)
        install = _INSTALL_COMMANDS.get(family or "", "install your distribution's ca-certificates package")
        if broken is not None:
            summary = f"{broken.origin} points to {broken.path}, which does not exist: no trust store"
            fix = f"Point {broken.origin} at an existing CA bundle, or unset it to use the system default."
        else:
            summary = "no system trust store found (no CA bundle in any known location)"
            fix = f"Install the CA certificates: `{install}`."
        return Finding("truststore.missing", summary, details, remediation=fix)
    store = usable[0]
    details["store_kind"] = store.kind
    if store.kind == "os":
        summary = f"the {store.path} is used"
        details["store"] = store.path
    else:
        summary = f"{store.path} ({store.origin}) holds {store.roots} certificate(s)"
        details["store"] = store.path
        details["roots"] = store.roots
    package = trust.ca_certificates_package_date(ctx.root)
    store_day: datetime.date | None = None
    if package is not None:
        store_day, where = package
        details["store_date"] = {"date": store_day.isoformat(), "from": where}
    elif store.modified is not None:
        store_day = store.modified.date()
        details["store_date"] = {"date": store_day.isoformat(), "from": "file modification time"}
    stale: list[str] = []
    fixes: list[str] = []
    if store_day is not None:
        age = (today - store_day).days
        details["store_age_days"] = age
        summary += f", dated {store_day.isoformat()}"
        if age > STALE_AFTER_DAYS:
            stale.append(f"the system store is {age} days old")
            fixes.append("`" + _UPDATE_COMMANDS.get(family or "", "update the ca-certificates package") + "`")
    if certifi_day is not None:
        age = (today - certifi_day).days
        details["certifi"]["age_days"] = age
        summary += f"; certifi {version}"
        if age > STALE_AFTER_DAYS:
            stale.append(f"certifi {version} is {age} days old")
            fixes.append("`pip install -U certifi`")
    if stale:
        return Finding(
            "truststore.stale",
            "; ".join(stale) + f" ({summary})",
            details,
            remediation="Update: " + "; ".join(fixes) + ".",
        )
    return Finding("truststore.ok", summary, details)


# Who fails when one store rejects an endpoint the other trusts.
_CONSEQUENCE = {
    trust.CERTIFI: "clients that ship certifi (pip, requests, httpx) would fail",
    trust.SYSTEM: "OneAgent, curl and every client using the system store would fail",
}
_STORE_NAMES = {trust.SYSTEM: "the system store", trust.CERTIFI: "certifi's bundle"}


@dataclass(frozen=True)
class Comparison:
    """How the two stores judged one endpoint, or why they could not be compared."""

    address: str
    verdicts: dict[str, str]
    rejected_by: str | None = None  # set when exactly one store rejects the endpoint
    error: str = ""  # the rejecting store's verify message
    not_compared: str = ""  # why no comparison was made

    @property
    def disagrees(self) -> bool:
        return self.rejected_by is not None

    @property
    def consequence(self) -> str:
        return _CONSEQUENCE.get(self.rejected_by or "", "")

    def sentence(self) -> str:
        rejected_by = self.rejected_by or trust.SYSTEM
        trusted_by = trust.SYSTEM if rejected_by == trust.CERTIFI else trust.CERTIFI
        return (
            f"{_STORE_NAMES[trusted_by]} trusts {self.address} but {_STORE_NAMES[rejected_by]} rejects it "
            f"({self.error}): {self.consequence}"
        )


def _not_compared(address: str, reason: str) -> Comparison:
    verdict = f"no verdict: {reason}"
    return Comparison(address, {trust.SYSTEM: verdict, trust.CERTIFI: verdict}, not_compared=reason)


def _usable(result: CheckResult | None) -> bool:
    return result is None or result.status in (Status.PASS, Status.WARN)


def compare(endpoint: Endpoint, probe: ProbeContext) -> Comparison:
    """Judge one endpoint by both stores, from the handshakes the ``tls`` check shares.

    When the ``tls`` result of the endpoint exists, its handshakes (the
    result's fact) are reused; when ``tls`` was skipped or abandoned, or was
    not selected and the route to the endpoint failed, no handshake is
    attempted and the comparison is reported as not made. When ``tls`` was
    not selected at all, the handshakes are done here.
    """
    address = endpoint.address
    tls_result = probe.result(tls.ID, address)
    if tls_result is not None and tls_result.status in (Status.SKIP, Status.ERROR):
        return _not_compared(address, f"the tls check did not judge {address} ({tls_result.code})")
    if tls_result is None:
        for check_id, target in proxy_check.route_requirements(probe.run, endpoint):
            route_result = probe.result(check_id, target)
            if not _usable(route_result):
                assert route_result is not None
                return _not_compared(address, f"{check_id} {target} failed ({route_result.code})")
    shared: tls_probe.Assessment | None = probe.fact(tls.ID, address)
    found = shared if shared is not None else tls.assessment(probe.run, endpoint)
    system, certifi = found.system, found.certifi
    verdicts: dict[str, str] = dict(found.store_verdicts())
    judged = (tls_probe.OK, tls_probe.VERIFY_FAILED)
    if certifi is None or system.outcome not in judged or certifi.outcome not in judged:
        failed = system if system.outcome not in judged or certifi is None else certifi
        reason = f"no TLS handshake with {address} to judge ({failed.message or failed.outcome}; see the tls result)"
        verdicts.setdefault(trust.CERTIFI, "no verdict: not tried")
        return Comparison(address, verdicts, not_compared=reason)
    if system.ok == certifi.ok:
        return Comparison(address, verdicts)
    if system.ok:
        return Comparison(address, verdicts, rejected_by=trust.CERTIFI, error=certifi.verify_message)
    return Comparison(address, verdicts, rejected_by=trust.SYSTEM, error=system.verify_message)


def _disagreement_fix(comparison: Comparison, details: dict[str, Any], update_command: str) -> str:
    if comparison.rejected_by == trust.CERTIFI:
        path = details.get("store")
        bundle = f"={path}" if details.get("store_kind") == "file" and path else ""
        return (
            f"The CA of {comparison.address} is only in the system store (a private or inspecting CA): point "
            f"Python tools at the system bundle (SSL_CERT_FILE{bundle}, REQUESTS_CA_BUNDLE{bundle}) or add the CA "
            "to their configuration."
        )
    return (
        f"The system store lacks the root CA of {comparison.address}: update it (`{update_command}`) or add the "
        "CA to the system store."
    )


def probe_trust(endpoints: list[Endpoint], probe: ProbeContext, platform: str, today: datetime.date) -> Finding:
    """The one ``local`` result: the store's facts, and how both stores judge every HTTPS endpoint."""
    ctx = probe.run
    store = probe_local(ctx, platform, today)
    comparisons = [compare(endpoint, probe) for endpoint in endpoints]
    details: dict[str, Any] = dict(store.details)
    details["stores"] = {comparison.address: comparison.verdicts for comparison in comparisons}
    disagreeing = [comparison for comparison in comparisons if comparison.disagrees]
    skipped = [comparison for comparison in comparisons if comparison.not_compared]
    if disagreeing:
        details["disagree"] = [
            {
                "endpoint": comparison.address,
                "rejected_by": comparison.rejected_by,
                "error": comparison.error,
                "consequence": comparison.consequence,
            }
            for comparison in disagreeing
        ]
    if skipped:
        details["not_compared"] = {comparison.address: comparison.not_compared for comparison in skipped}

    if not disagreeing:
        if not endpoints or store.code != "truststore.ok":
            return Finding(store.code, store.summary, details, remediation=store.remediation)
        agreed = [comparison.address for comparison in comparisons if not comparison.not_compared]
        notes = []
        if agreed:
            notes.append(f"both stores judge {', '.join(agreed)} alike")
        if skipped:
            notes.append(f"no comparison for {', '.join(comparison.address for comparison in skipped)}")
        return Finding(store.code, f"{store.summary}; {'; '.join(notes)}", details)

    family = distribution_family(os_release(ctx.root))
    update = _UPDATE_COMMANDS.get(family or "", "update the ca-certificates package")
    disagreement = "the stores disagree: " + "; ".join(comparison.sentence() for comparison in disagreeing)
    fixes = [_disagreement_fix(comparison, details, update) for comparison in disagreeing]
    if store.code == "truststore.ok":
        return Finding(
            "truststore.disagree", f"{disagreement} (store: {store.summary})", details, remediation=" ".join(fixes)
        )
    # missing or stale outranks disagree; the summary and the fixes name both.
    local_fix = store.remediation or CODES[store.code].remediation
    return Finding(
        store.code, f"{store.summary}; also {disagreement}", details, remediation=" ".join([local_fix, *fixes])
    )


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = tls.https_endpoints(ctx)
    # Wait for each endpoint's tls result (and its route, for when tls is not selected) to reuse its
    # handshakes, but run whatever their status: a failing tls result is often what the stores explain.
    awaited: list[ResultKey] = []
    for endpoint in endpoints:
        awaited.append((tls.ID, endpoint.address))
        awaited.extend(proxy_check.route_requirements(ctx, endpoint))
    return [
        Probe(
            LOCAL,
            lambda probe: probe_trust(endpoints, probe, sys.platform, datetime.date.today()),
            after=tuple(dict.fromkeys(awaited)),
            # Only when tls is not selected does this probe do the handshakes itself, one endpoint after another.
            budget=1.0 + 7.0 * len(endpoints),
        )
    ]


CHECK = Check(id=ID, title="Certificate trust stores", codes=CODES, plan=plan)
