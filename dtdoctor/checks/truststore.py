"""``truststore``: is there a system trust store, is it fresh, and do the two stores agree?

Target ``local``: where the system CA bundle is (``SSL_CERT_FILE`` /
``SSL_CERT_DIR`` first, then each distribution's path), how many roots it
holds, how old it and certifi's bundle are. Target ``host:port`` per HTTPS
endpoint: whether the system store and certifi's Mozilla bundle judge that
endpoint's chain alike (the handshakes are shared with the ``tls`` check).
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

from dtdoctor.checks import proxy as proxy_check
from dtdoctor.checks import tls
from dtdoctor.checks.base import LOCAL, Check, Finding, Probe, ProbeContext
from dtdoctor.codes import Code, codes
from dtdoctor.config import Endpoint
from dtdoctor.context import RunContext
from dtdoctor.hostfacts import os_release
from dtdoctor.model import Status
from dtdoctor.net import tls_probe, trust

ID = "truststore"

STALE_AFTER_DAYS = 365

CODES = codes(
    Code(
        "truststore.ok",
        Status.PASS,
        "A system trust store exists, and it and certifi's bundle are less than a year old.",
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
    Code(
        "truststore.agree",
        Status.PASS,
        "The system trust store and certifi's bundle judge the endpoint alike.",
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


def probe_agreement(endpoint: Endpoint, probe: ProbeContext) -> Finding:
    found = tls.assessment(probe.run, endpoint)
    details: dict[str, Any] = {
        "route": proxy_check.route_details(found.route),
        "trust_stores": found.store_verdicts(),
    }
    system, certifi = found.system, found.certifi
    judged = (tls_probe.OK, tls_probe.VERIFY_FAILED)
    if certifi is None or system.outcome not in judged or certifi.outcome not in judged:
        return Finding(
            "prerequisite.failed",
            f"skipped: no TLS handshake with {endpoint.address} to judge ({system.message or system.outcome}; "
            "see the tls result)",
            details,
        )
    if system.ok == certifi.ok:
        verdict = "trust" if system.ok else "reject"
        return Finding(
            "truststore.agree", f"the system store and certifi both {verdict} {endpoint.address}", details
        )
    if system.ok:
        details["rejected_by"] = trust.CERTIFI
        return Finding(
            "truststore.disagree",
            f"the system store trusts {endpoint.address} but certifi's bundle rejects it ({certifi.verify_message}): "
            "Python tools that ship certifi (pip, requests, httpx) would fail",
            details,
            remediation=(
                "The endpoint's CA is only in the system store (a private or inspecting CA): point Python tools at "
                "the system bundle (SSL_CERT_FILE / REQUESTS_CA_BUNDLE) or add the CA to their configuration."
            ),
        )
    details["rejected_by"] = trust.SYSTEM
    return Finding(
        "truststore.disagree",
        f"certifi's bundle trusts {endpoint.address} but the system store rejects it ({system.verify_message}): "
        "OneAgent, curl and every client using the system store would fail",
        details,
        remediation="The system store lacks this root: update the ca-certificates package (see the truststore "
        "local result for the command) or add the CA to the system store.",
    )


def plan(ctx: RunContext) -> list[Probe]:
    probes = [Probe(LOCAL, lambda probe: probe_local(probe.run, sys.platform, datetime.date.today()))]

    def agreement_for(endpoint: Endpoint) -> Probe:
        return Probe(
            endpoint.address,
            lambda probe: probe_agreement(endpoint, probe),
            requires=proxy_check.route_requirements(ctx, endpoint),
            budget=7.0,
        )

    probes.extend(agreement_for(endpoint) for endpoint in tls.https_endpoints(ctx))
    return probes


CHECK = Check(id=ID, title="Certificate trust stores", codes=CODES, plan=plan, depends_on=("tls",))
