"""``tls``: does every HTTPS endpoint present a certificate this host trusts?

The handshake is verified against the system trust store plus
``--ca-bundle``. When it fails, the certificates the server presented are
read with a second, unverified handshake and the failure is classified into
one precise cause with the certificate evidence. The route (direct, or
through which proxy and why) is part of every result.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from dtdoctor.checks import config_url
from dtdoctor.checks import proxy as proxy_check
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status, utc_timestamp
from dtdoctor.net import proxy as net_proxy
from dtdoctor.net import tls_probe, trust

ID = "tls"

_SHOW_CHAIN = "openssl s_client -connect {address} -servername {host} -showcerts </dev/null"
_PASS_CA = "pass the CA certificate (PEM) with --ca-bundle /path/to/ca.pem and install it in the system store"

CODES = codes(
    Code("tls.ok", Status.PASS, "The TLS handshake succeeds and the certificate is trusted, valid and for this host."),
    Code(
        "tls.expiring_soon",
        Status.WARN,
        "The certificate is valid but expires within --expiry-warn-days.",
        "The certificate has not been renewed yet; automatic renewal may be broken.",
        "Renew the server's certificate before it expires (for SaaS, Dynatrace renews it; for Managed or an "
        "ActiveGate, whoever runs that server).",
    ),
    Code(
        "tls.expired",
        Status.FAIL,
        "A certificate the server presents has expired.",
        "The certificate was not renewed, or this host's clock is far ahead.",
        "Renew the server's certificate; if the date this host shows is wrong, fix its clock first "
        "(timedatectl, chrony or ntpd).",
    ),
    Code(
        "tls.not_yet_valid",
        Status.FAIL,
        "The certificate is not valid yet according to this host's clock.",
        "Most often this host's clock is behind (a fresh certificate looks like one from the future); "
        "rarely a certificate issued with a wrong start date.",
        "Check this host's clock (`timedatectl`, `chronyc tracking`) and enable NTP synchronisation.",
    ),
    Code(
        "tls.hostname_mismatch",
        Status.FAIL,
        "The certificate does not cover the host name in the URL.",
        "The URL uses an IP address or an alias the certificate does not name, or a load balancer or proxy "
        "answers with its own certificate.",
        "Use a URL with a host name the certificate covers (listed in the details), or have the certificate "
        "reissued to include the name you use.",
    ),
    Code(
        "tls.self_signed",
        Status.FAIL,
        "The server presents a self-signed certificate that this host does not trust.",
        "An ActiveGate or Managed cluster still uses its default self-signed certificate, or a test setup.",
        "Install a certificate from a trusted CA on the server, or trust this one explicitly: " + _PASS_CA + ".",
    ),
    Code(
        "tls.untrusted_root",
        Status.FAIL,
        "The certificate chain ends at a root CA this host does not trust.",
        "A private or corporate CA, or a TLS-inspecting proxy or firewall that re-signs traffic with its own CA.",
        "Get the root CA's certificate from your network or security team and " + _PASS_CA + ".",
    ),
    Code(
        "tls.incomplete_chain",
        Status.FAIL,
        "The server sent its certificate without the intermediate CA certificate that links it to a trusted root.",
        "The server is configured with the leaf certificate only instead of the full chain "
        "('unable to verify the first certificate').",
        "Whoever runs the server must configure it with the full chain (leaf plus intermediates). Until then, "
        "the intermediate (downloadable from the AIA URL in the details) can be passed with --ca-bundle.",
    ),
    Code(
        "tls.unknown_issuer",
        Status.FAIL,
        "The server sent only its own certificate, and the CA that issued it is in no trust store of this host "
        "and names no download (AIA): the evidence cannot tell a missing intermediate from an untrusted "
        "private root.",
        "Either the server is configured with its certificate only and the issuer is an intermediate CA that "
        "it should send too, or the issuer is a private or corporate root CA (which signs server certificates "
        "directly) that this host does not trust.",
        "Ask whoever runs {_host} which it is: if {_issuer} is an intermediate CA, configure {_host} with the "
        "full chain (its certificate followed by the intermediate); if it is your organisation's root CA, "
        + _PASS_CA + ". See what the server sends: `{_show_chain}`.",
        summary="{_host} sent only its own certificate, issued by '{_issuer}', which no trust store of this "
        "host holds and which names no download (AIA): a missing intermediate and an untrusted private root "
        "look the same from here",
    ),
    Code(
        "tls.weak_protocol",
        Status.WARN,
        "The TLS handshake succeeded, but with a version below 1.2.",
        "An old server or a middlebox that prefers TLS 1.0 or 1.1, and an OpenSSL on this host that still "
        "allows it; clients with current defaults refuse it (a server that offers nothing newer is "
        "tls.handshake_failed).",
        "Enable TLS 1.2 or 1.3 on the server or the middlebox in front of it.",
    ),
    Code(
        "tls.inspected",
        Status.WARN,
        "The connection to a Dynatrace SaaS host is inspected: its certificate chain ends at a root that is not "
        "a public CA in Mozilla's list, so something in between re-signs the traffic.",
        "A TLS-inspecting proxy or firewall (squid ssl-bump, a next-generation firewall) whose CA this host "
        "trusts locally (--ca-bundle or the system store). Agents that do not trust that CA fail, and what the "
        "proxy judges about Dynatrace's real certificate is hidden from this host.",
        "Ask the team that runs the inspecting device (the summary names the issuer) to exempt the Dynatrace "
        "hosts from inspection, or make sure every agent trusts its CA.",
    ),
    Code(
        "tls.large_packets_dropped",
        Status.FAIL,
        "The network path to the endpoint drops large packets: the TLS handshake completes only when this host "
        "asks for small ones.",
        "An MTU black hole: a VPN, tunnel or link with a smaller MTU on the way, and the ICMP 'fragmentation "
        "needed' / 'packet too big' messages that would shrink the packets are blocked by a firewall.",
        "Ask the network team to let ICMP 'fragmentation needed' (type 3 code 4) and ICMPv6 'packet too big' "
        "through, or to clamp the TCP MSS on the router of the smaller link; as a stopgap, lower this host's "
        "MTU (`ip link set dev <if> mtu 1400`).",
    ),
    Code(
        "tls.reset_after_hello",
        Status.FAIL,
        "The TCP connection works, but it is reset right after this host sends its TLS ClientHello.",
        "A firewall, web filter or IPS between this host and the endpoint that reads the server name (SNI) in "
        "the ClientHello and resets connections to names it blocks; rarely a server that resets every TLS "
        "client it does not accept.",
        "Ask the team that runs the firewall, web filter or IPS between this host and {_host} to allow TLS to "
        "{_host} on port {_port}; the summary says whether its rule matches the server name.",
        summary="{_address}{_via} accepted the TCP connection, then reset it right after this host's TLS "
        "ClientHello for {_host}, before the server answered; {_nameless}",
    ),
    Code(
        "tls.handshake_failed",
        Status.FAIL,
        "The TLS handshake failed before any certificate could be judged.",
        "No common protocol version or cipher (a server that offers only TLS 1.0 or 1.1 is named as such), "
        "the peer closed the connection (a reset right after the ClientHello is tls.reset_after_hello), or the port "
        "does not speak TLS at all.",
        "Read the OpenSSL reason in the summary; check that the URL's port is the HTTPS port and that no "
        "middlebox interferes (`" + _SHOW_CHAIN.format(address="HOST:PORT", host="HOST") + "`).",
    ),
    Code(
        "tls.timeout",
        Status.FAIL,
        "The server accepted the TCP connection but never completed the TLS handshake.",
        "A firewall or proxy that lets TCP through but holds the traffic, or a service on that port that "
        "does not speak TLS and waits for the client.",
        "Check that the port is the HTTPS port of the endpoint and that no firewall or proxy inspects or "
        "blocks TLS to it; retry with a larger --timeout.",
    ),
)

# OpenSSL X509_V_ERR_* codes the classification relies on.
_V_UNABLE_TO_GET_ISSUER_CERT = 2
_V_CERT_NOT_YET_VALID = 9
_V_CERT_HAS_EXPIRED = 10
_V_DEPTH_ZERO_SELF_SIGNED = 18
_V_SELF_SIGNED_IN_CHAIN = 19
_V_UNABLE_TO_GET_ISSUER_LOCALLY = 20
_V_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
_V_HOSTNAME_MISMATCH = 62
_V_IP_ADDRESS_MISMATCH = 64
# Errors in building the chain to a trusted root (OpenSSL reports these before names and dates).
_CHAIN_CODES = (
    _V_UNABLE_TO_GET_ISSUER_CERT,
    _V_DEPTH_ZERO_SELF_SIGNED,
    _V_SELF_SIGNED_IN_CHAIN,
    _V_UNABLE_TO_GET_ISSUER_LOCALLY,
    _V_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
)

# A certificate that only becomes valid within this many days is most likely fresh,
# and this host's clock behind.
_FRESH_CERT_DAYS = 3
# A local clock before this date is certainly wrong.
_EARLIEST_PLAUSIBLE_YEAR = 2025

_WEAK_VERSIONS = ("SSLv3", "TLSv1", "TLSv1.1")
_INTERMEDIATE_WORDS = ("intermediate", "issuing", "subordinate", "sub ca", "server ca", "tls ca", "ssl ca")


def assessment(ctx: RunContext, endpoint: Endpoint) -> tls_probe.Assessment:
    """The handshakes for one endpoint. The tls result carries them as its fact, so ``truststore``,
    which waits for that result, reuses them instead of calling this again."""
    route = net_proxy.route(ctx, endpoint)
    return tls_probe.assess(endpoint, route, ctx.settings.ca_bundle, ctx.timeout)


def _day(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _facts_list(chain: tuple[bytes, ...]) -> list[Any]:
    from dtdoctor.net.certs import cert_facts

    facts = []
    for der in chain:
        try:
            facts.append(cert_facts(der))
        except ValueError:
            continue
    return facts


def _remediation_for_ca(endpoint: Endpoint, what: str) -> str:
    return (
        f"If {what} is your organisation's CA or its TLS-inspecting proxy, export its CA certificate as PEM and run "
        f"`dtdoctor check --ca-bundle /path/to/ca.pem`; install it system-wide (Debian/Ubuntu: copy to "
        "/usr/local/share/ca-certificates/<name>.crt and run `update-ca-certificates`; RHEL: copy to "
        "/etc/pki/ca-trust/source/anchors/ and run `update-ca-trust`). Otherwise, the server must present a "
        "certificate from a public CA. See the chain: "
        f"`{_SHOW_CHAIN.format(address=endpoint.address, host=endpoint.host)}`."
    )


def judge(endpoint: Endpoint, found: tls_probe.Assessment, warn_days: int, now: datetime.datetime) -> Finding:
    """Turn the handshakes into one verdict with the certificate evidence."""
    route = found.route
    details: dict[str, Any] = {"route": proxy_check.route_details(route)}
    if found.ca_bundle is not None:
        details["ca_bundle"] = str(found.ca_bundle)
    via = "" if route.direct else f" (via proxy {route.display})"
    broken = _NO_CERTIFICATE_VERDICT.get(found.system.outcome)
    if broken is not None:
        return broken(endpoint, found, details, via)
    chain_facts = _chain_evidence(found, details, now)
    if found.system.ok:
        return _verified(endpoint, found, chain_facts, details, via, warn_days, now)
    return _verify_failed(endpoint, found, chain_facts, details, via, now)


def _tunnel_failed(endpoint: Endpoint, found: tls_probe.Assessment, details: dict[str, Any], via: str) -> Finding:
    error = found.system.tunnel_error
    if error is None:
        return _connect_failed(endpoint, found, details, via)
    finding = proxy_check.tunnel_finding(error, found.route.display, endpoint.address)
    return Finding(finding.code, finding.summary, {**details, **finding.details}, remediation=finding.remediation)


def _connect_failed(endpoint: Endpoint, found: tls_probe.Assessment, details: dict[str, Any], via: str) -> Finding:
    details["error"] = found.system.message
    return Finding(
        "tls.handshake_failed",
        f"no connection for the TLS handshake: {found.system.message}",
        details,
        remediation="See the dns and tcp results for this endpoint.",
    )


def _timed_out(endpoint: Endpoint, found: tls_probe.Assessment, details: dict[str, Any], via: str) -> Finding:
    details["elapsed_ms"] = found.system.elapsed_ms
    small = found.small_segments
    if small is not None:
        details["small_segments"] = {"mss": tls_probe.SMALL_MSS, "outcome": small.outcome}
    if small is not None and small.outcome in (tls_probe.OK, tls_probe.VERIFY_FAILED):
        return Finding(
            "tls.large_packets_dropped",
            f"{endpoint.address} accepted TCP but the TLS handshake never completed; asking for small packets "
            f"(TCP MSS {tls_probe.SMALL_MSS}) it completes: the path drops large packets",
            details,
        )
    return Finding(
        "tls.timeout",
        f"{endpoint.address} accepted TCP{via} but no TLS handshake completed within "
        f"{found.system.elapsed_ms / 1000:.1f} s",
        details,
    )


# Classify: handshakes that ended before any certificate could be judged.
_NO_CERTIFICATE_VERDICT: dict[str, Callable[[Endpoint, tls_probe.Assessment, dict[str, Any], str], Finding]] = {
    tls_probe.TUNNEL_FAILED: _tunnel_failed,
    tls_probe.CONNECT_FAILED: _connect_failed,
    tls_probe.TIMEOUT: _timed_out,
    tls_probe.FAILED: lambda endpoint, found, details, via: (
        _reset_after_hello if found.system.reason in tls_probe.RESET_REASONS else _handshake_failed
    )(endpoint, found, details, via),
}


def _chain_evidence(found: tls_probe.Assessment, details: dict[str, Any], now: datetime.datetime) -> list[Any]:
    """The presented chain as facts, recorded in the details."""
    presented = found.presented
    chain_facts = _facts_list(presented.chain) if presented is not None else []
    if presented is not None:
        details["chain"] = [facts.short() for facts in chain_facts]
        details["chain_complete"] = presented.chain_complete
    details["trust_stores"] = found.store_verdicts()
    if chain_facts:
        details["leaf"] = chain_facts[0].to_json()
        details["days_left"] = chain_facts[0].days_left(now)
    return chain_facts


def _verified(
    endpoint: Endpoint, found: tls_probe.Assessment, chain: list[Any], details: dict[str, Any], via: str,
    warn_days: int, now: datetime.datetime,
) -> Finding:
    system = found.system
    details["protocol"] = system.version
    details["cipher"] = system.cipher
    if not chain:  # verified, but the certificate would not parse: nothing more to judge
        return Finding("tls.ok", f"{system.version}{via}, certificate verified", details)
    leaf = chain[0]
    days = leaf.days_left(now)
    where = f"{system.version}{via}, certificate for {leaf.subject_cn} from {leaf.issuer_cn}"
    if system.version in _WEAK_VERSIONS:
        return Finding("tls.weak_protocol", f"{where}: {system.version} is below TLS 1.2", details)
    inspected = _inspection(endpoint, chain, details)
    if inspected is not None:
        return inspected
    if days < warn_days:
        return Finding(
            "tls.expiring_soon",
            f"certificate expires in {days} day(s) ({_day(leaf.not_after)}); {where}",
            details,
            remediation=f"Renew the certificate of {endpoint.host} before {_day(leaf.not_after)}.",
        )
    return Finding("tls.ok", f"{where}, valid {days} more days", details)


def _is_dynatrace_saas(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "dynatrace.com" or name.endswith(".dynatrace.com")


def _inspection(endpoint: Endpoint, chain: list[Any], details: dict[str, Any]) -> Finding | None:
    """``tls.inspected`` when a Dynatrace SaaS chain ends in a root that is not in Mozilla's list.

    Dynatrace's own hosts carry certificates from public CAs; a chain to any
    other root was made by something in between that re-signs the traffic.
    """
    if not _is_dynatrace_saas(endpoint.host):
        return None
    top = chain[-1]
    root = top.subject if top.self_issued else top.issuer
    if root in mozilla_roots():
        return None
    issuer = chain[0].issuer_cn or chain[0].issuer
    details["inspected_by"] = chain[0].issuer
    details["root"] = root
    return Finding(
        "tls.inspected",
        f"the traffic to {endpoint.host} is inspected: its certificate was issued by '{issuer}', and the chain "
        f"ends at '{top.issuer_cn if not top.self_issued else top.subject_cn}', which is not a public CA in "
        "Mozilla's list (this host trusts it locally)",
        details,
    )


def mozilla_roots() -> frozenset[str]:
    """The subjects of Mozilla's root list, as certifi ships it (read once)."""
    return _mozilla_roots()


@functools.lru_cache(maxsize=1)
def _mozilla_roots() -> frozenset[str]:
    import certifi

    from dtdoctor.net.roots import read_bundle

    return frozenset(root.subject for root in read_bundle(Path(certifi.where())).values())


def _verify_failed(
    endpoint: Endpoint, found: tls_probe.Assessment, chain: list[Any], details: dict[str, Any], via: str,
    now: datetime.datetime,
) -> Finding:
    from dtdoctor.net.certs import hostname_matches

    system = found.system
    details["verify_code"] = system.verify_code
    details["verify_message"] = system.verify_message
    # Even a trusted certificate would not help a server that offers only an outdated protocol.
    outdated = _outdated_protocol_only(endpoint, found, details, via)
    if outdated is not None:
        return outdated
    if not chain:
        return Finding(
            "tls.handshake_failed",
            f"certificate verification failed ({system.verify_message}) and the certificate could not be read",
            details,
        )
    leaf = chain[0]
    # OpenSSL stops at the first error; list what else is visibly wrong with the leaf, so one fix
    # is not followed by a surprise.
    mismatch = not hostname_matches(leaf, endpoint.host)
    visible = {
        "expired": leaf.expired(now),
        "not_yet_valid": leaf.not_yet_valid(now),
        "hostname_mismatch": mismatch,
        "self_signed": leaf.self_issued,
    }
    details["leaf_problems"] = [name for name, present in visible.items() if present]
    cause = _verify_cause(system.verify_code, visible, len(chain))
    return _VERIFY_VERDICT[cause](endpoint, chain, found.presented, details, now)


def _verify_cause(code: int | None, visible: dict[str, bool], chain_length: int) -> str:
    """Which failure to name, from OpenSSL's verify code and what the leaf shows."""
    if code == _V_CERT_HAS_EXPIRED or (code is None and visible["expired"]):
        return "expired"
    if code == _V_CERT_NOT_YET_VALID or (code is None and visible["not_yet_valid"]):
        return "not_yet_valid"
    if code in (_V_HOSTNAME_MISMATCH, _V_IP_ADDRESS_MISMATCH) or (
        code not in _CHAIN_CODES and visible["hostname_mismatch"]
    ):
        return "hostname_mismatch"
    if code == _V_DEPTH_ZERO_SELF_SIGNED or (visible["self_signed"] and chain_length == 1):
        return "self_signed"
    return "untrusted"


def _hostname_mismatch(
    endpoint: Endpoint, chain: list[Any], presented: Any, details: dict[str, Any], now: datetime.datetime
) -> Finding:
    leaf = chain[0]
    names = leaf.names or [leaf.subject_cn]
    details["certificate_names"] = names
    example = next((name for name in names if not name.startswith("*")), names[0].replace("*", "<name>", 1))
    return Finding(
        "tls.hostname_mismatch",
        f"the certificate is for {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}, not {endpoint.host}",
        details,
        remediation=(
            f"Use a URL with a name the certificate covers (e.g. https://{example}:{endpoint.port}) if it is the "
            f"same server, or have the certificate reissued to include {endpoint.host}."
        ),
    )


def _self_signed(
    endpoint: Endpoint, chain: list[Any], presented: Any, details: dict[str, Any], now: datetime.datetime
) -> Finding:
    return Finding(
        "tls.self_signed",
        f"{endpoint.host} presents a self-signed certificate ({chain[0].subject_cn}) that this host does not trust",
        details,
        remediation=(
            f"Install a certificate from a trusted CA on {endpoint.host}, or trust this one: save it with "
            f"`{_SHOW_CHAIN.format(address=endpoint.address, host=endpoint.host)}` and pass it with "
            "`--ca-bundle /path/to/cert.pem` (and to every client that sends to it)."
        ),
    )


_VERIFY_VERDICT: dict[str, Callable[[Endpoint, list[Any], Any, dict[str, Any], datetime.datetime], Finding]] = {
    "expired": lambda endpoint, chain, presented, details, now: _expired(endpoint, chain, details, now),
    "not_yet_valid": lambda endpoint, chain, presented, details, now: _not_yet_valid(endpoint, chain, details, now),
    "hostname_mismatch": _hostname_mismatch,
    "self_signed": _self_signed,
    "untrusted": lambda endpoint, chain, presented, details, now: _untrusted(
        endpoint, chain, presented, details, details.get("verify_code")
    ),
}


def _outdated_protocol_only(
    endpoint: Endpoint, found: tls_probe.Assessment, details: dict[str, Any], via: str
) -> Finding | None:
    """``tls.handshake_failed`` naming the protocol, when the server offers nothing newer than TLS 1.1.

    The legacy handshake allows every version, so the one it negotiates is the
    newest the server offers. Not a weak_protocol warning: no client with
    current defaults can connect at all.
    """
    legacy = found.legacy
    if legacy is None or not legacy.ok or legacy.version not in _WEAK_VERSIONS:
        return None
    details["offered_protocol"] = legacy.version
    return Finding(
        "tls.handshake_failed",
        f"{endpoint.address}{via} offers only the outdated {legacy.version}, which this host and current "
        "clients refuse: they need TLS 1.2 or newer",
        details,
        remediation=(
            f"Enable TLS 1.2 or 1.3 on {endpoint.host}: on the server or ActiveGate itself, or on the proxy or "
            f"load balancer in front of it that terminates TLS ({legacy.version} is deprecated, RFC 8996)."
        ),
    )


# After a reset: what the same handshake without the server name says about the cause.
_NAMELESS_WORDS = {
    True: "the same address completes a handshake when the ClientHello carries no server name: a firewall or "
    "filter that inspects the server name (SNI) resets the connection",
    False: "a ClientHello without the server name was not answered either ({_nameless_outcome}): most likely a "
    "firewall or filter that inspects TLS resets it, possibly for this host's address rather than the name",
}


def _reset_after_hello(endpoint: Endpoint, found: tls_probe.Assessment, details: dict[str, Any], via: str) -> Finding:
    """``tls.reset_after_hello``: TCP worked, the reset came after the ClientHello (the handshake itself)."""
    nameless = found.nameless
    answered = nameless is not None and nameless.outcome in (tls_probe.OK, tls_probe.VERIFY_FAILED)
    outcome = nameless.reason or nameless.outcome if nameless is not None else "not tried"
    details.update(
        tcp_connected=True,
        reset_after="ClientHello",
        error=found.system.message,
        without_server_name="handshake completed" if answered else outcome,
    )
    wording = {
        "_address": endpoint.address, "_via": via, "_host": endpoint.host, "_port": endpoint.port,
        "_nameless": _NAMELESS_WORDS[answered].format(_nameless_outcome=outcome),
    }
    return Finding("tls.reset_after_hello", details={**details, **wording})


def _handshake_failed(endpoint: Endpoint, found: tls_probe.Assessment, details: dict[str, Any], via: str) -> Finding:
    system = found.system
    reason = system.reason or system.message
    details["reason"] = reason
    details["error"] = system.message
    outdated = _outdated_protocol_only(endpoint, found, details, via)
    if outdated is not None:
        return outdated
    upper = reason.upper()
    if "WRONG_VERSION_NUMBER" in upper or "RECORD_LAYER_FAILURE" in upper or "PACKET_LENGTH_TOO_LONG" in upper:
        plain = f"{endpoint.address}{via} does not speak TLS (it answered something else, e.g. plain HTTP)"
        fix = (
            f"Check the port: {endpoint.port} on {endpoint.host} is not an HTTPS port, or a proxy answers in its "
            "place."
        )
    elif any(word in upper for word in ("PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS")):
        plain = f"no TLS version in common with {endpoint.address}{via} ({reason})"
        fix = f"Enable TLS 1.2 or 1.3 on {endpoint.host}."
    elif "HANDSHAKE_FAILURE" in upper or "NO_SHARED_CIPHER" in upper or "INSUFFICIENT_SECURITY" in upper:
        plain = f"{endpoint.address}{via} rejected the handshake: no common cipher or key exchange ({reason})"
        fix = f"Enable modern cipher suites (ECDHE with AES-GCM or ChaCha20) on {endpoint.host}."
    elif "EOF" in upper or "RESET" in upper or "CONNECTIONRESET" in upper or "BROKENPIPE" in upper:
        plain = f"{endpoint.address}{via} closed the connection during the TLS handshake ({reason})"
        fix = (
            "A firewall or proxy that filters TLS by server name, or a server that rejects this client: ask the "
            f"network team whether TLS to {endpoint.host} is allowed."
        )
    else:
        plain = f"TLS handshake with {endpoint.address}{via} failed: {reason}"
        fix = f"Inspect it with `{_SHOW_CHAIN.format(address=endpoint.address, host=endpoint.host)}`."
    return Finding("tls.handshake_failed", plain, details, remediation=fix)


def _clock_note(now: datetime.datetime) -> str:
    return f"this host's clock says {now.strftime('%Y-%m-%d %H:%M')} UTC"


def _expired(endpoint: Endpoint, chain: list[Any], details: dict[str, Any], now: datetime.datetime) -> Finding:
    expired = next((facts for facts in chain if facts.expired(now)), chain[0])
    which = (
        "the server's certificate" if expired is chain[0] else f"the CA certificate {expired.subject_cn} in the chain"
    )
    days = max(0, (now - expired.not_after).days)
    details["expired_certificate"] = expired.short()
    summary = f"{which} expired {days} day(s) ago ({_day(expired.not_after)}); {_clock_note(now)}"
    fix = (
        f"The certificate of {endpoint.host} must be renewed by whoever runs it (it expired "
        f"{_day(expired.not_after)}); if the date this host shows is wrong, fix its clock first."
    )
    return Finding("tls.expired", summary, details, remediation=fix)


def _not_yet_valid(endpoint: Endpoint, chain: list[Any], details: dict[str, Any], now: datetime.datetime) -> Finding:
    early = next((facts for facts in chain if facts.not_yet_valid(now)), chain[0])
    ahead = early.not_before - now
    clock_suspect = now.year < _EARLIEST_PLAUSIBLE_YEAR or ahead <= datetime.timedelta(days=_FRESH_CERT_DAYS)
    details["not_yet_valid_certificate"] = early.short()
    details["local_clock_suspect"] = clock_suspect
    start = early.not_before.strftime("%Y-%m-%d %H:%M")
    summary = f"the certificate is valid only from {start} UTC; {_clock_note(now)}"
    if clock_suspect:
        summary += ": this host's clock is the likelier culprit"
        fix = (
            "Fix this host's clock: enable NTP (`timedatectl set-ntp true`, or start chronyd/ntpd) and check "
            "`timedatectl`; see the clock check."
        )
    else:
        fix = (
            f"The certificate of {endpoint.host} starts far in the future: have it reissued; also confirm this "
            "host's clock with `timedatectl`."
        )
    return Finding("tls.not_yet_valid", summary, details, remediation=fix)


def _untrusted(
    endpoint: Endpoint,
    chain: list[Any],
    presented: tls_probe.Handshake | None,
    details: dict[str, Any],
    verify_code: int | None,
) -> Finding:
    leaf = chain[0]
    top = chain[-1]
    # "Unable to verify the first certificate" (21) is OpenSSL's own word that only the leaf arrived;
    # otherwise the presented chain tells (where this Python can read it).
    leaf_only = (len(chain) == 1 and presented is not None and presented.chain_complete) or (
        verify_code == _V_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    )
    intermediate_like = bool(leaf.ca_issuers) or any(word in leaf.issuer.lower() for word in _INTERMEDIATE_WORDS)
    inspection = next((facts.looks_like_inspection() for facts in chain if facts.looks_like_inspection()), None)
    if leaf_only and inspection is None and intermediate_like:
        return _incomplete_chain(endpoint, leaf, details)
    if leaf_only and inspection is None and not top.self_issued:
        return _unknown_issuer(endpoint, leaf, details)
    root_name = top.issuer_cn if not top.self_issued else top.subject_cn
    root = top.issuer if not top.self_issued else top.subject
    details["untrusted_root"] = root
    details["tls_inspection_suspect"] = inspection is not None
    summary = f"the chain ends at '{root_name}', which this host does not trust"
    if inspection is not None:
        summary += (
            f": it looks like a TLS-inspecting proxy or firewall ('{inspection}' in the issuer) re-signs the traffic"
        )
    else:
        summary += " (a private or corporate CA, or a TLS-inspecting middlebox)"
    return Finding("tls.untrusted_root", summary, details, remediation=_remediation_for_ca(endpoint, f"'{root_name}'"))


def _incomplete_chain(endpoint: Endpoint, leaf: Any, details: dict[str, Any]) -> Finding:
    """``tls.incomplete_chain``: a lone leaf whose issuer looks like an intermediate (by AIA or by name)."""
    # Certificates from Microsoft AD CS list an ldap:// URL first; the http(s) one is the download.
    url = next(
        (candidate for candidate in leaf.ca_issuers if candidate.lower().startswith(("http://", "https://"))),
        leaf.ca_issuers[0] if leaf.ca_issuers else None,
    )
    details["missing_issuer"] = leaf.issuer
    details["missing_issuer_url"] = url
    where = f" (download: {url})" if url else ""
    return Finding(
        "tls.incomplete_chain",
        f"{endpoint.host} sent only its own certificate, not the intermediate '{leaf.issuer_cn}' that issued it"
        f"{where}",
        details,
        remediation=(
            f"Ask whoever runs {endpoint.host} to configure it with the full certificate chain (its certificate "
            f"followed by '{leaf.issuer_cn}'). Workaround: download the intermediate{f' from {url}' if url else ''}, "
            "convert it to PEM (`openssl x509 -inform der -in issuer.crt -out issuer.pem`) and pass it with "
            "--ca-bundle."
        ),
    )


def _unknown_issuer(endpoint: Endpoint, leaf: Any, details: dict[str, Any]) -> Finding:
    """``tls.unknown_issuer``: a lone leaf whose issuer no store holds and that names no AIA download."""
    details["unknown_issuer"] = leaf.issuer
    details["issuer_download"] = None
    wording = {
        "_host": endpoint.host,
        "_issuer": leaf.issuer_cn or leaf.issuer,
        "_show_chain": _SHOW_CHAIN.format(address=endpoint.address, host=endpoint.host),
    }
    return Finding("tls.unknown_issuer", details={**details, **wording})


def typed_evidence(found: tls_probe.Assessment, base: Evidence) -> Evidence:
    """The route, handshake latency and certificate facts of one assessment, whatever the verdict."""
    system = found.system
    completed = system.ok or system.outcome == tls_probe.VERIFY_FAILED
    facts: dict[str, Any] = {
        "latency_ms": system.elapsed_ms if completed else None,
        "error": None if completed else (system.reason or system.message or None),
    }
    presented = found.presented
    chain = _facts_list(presented.chain) if presented is not None else []
    if chain:
        leaf, top = chain[0], chain[-1]
        facts["certificate_issuer"] = leaf.issuer
        facts["certificate_expires_at"] = utc_timestamp(leaf.not_after)
        facts["certificate_root"] = top.subject if top.self_issued else top.issuer
    typed = proxy_check.route_evidence(found.route, **facts)
    # A tunnel failure's own evidence (the proxy's HTTP status) stays.
    return replace(typed, http_status=base.http_status, error=typed.error or base.error)


def load_trust(ctx: RunContext) -> None:
    """Build the trust stores' SSL contexts, shared by every handshake: loading a store takes tens of
    milliseconds (without holding the interpreter), so it runs while DNS and TCP are checked."""
    for store in (trust.SYSTEM, trust.CERTIFI):
        trust.shared_context(store, ctx.settings.ca_bundle)


def probe_endpoint(endpoint: Endpoint, probe: ProbeContext) -> Finding:
    from dtdoctor.net.certs import utc_now

    probe.prepared()  # the trust contexts
    found = assessment(probe.run, endpoint)
    finding = judge(endpoint, found, probe.run.settings.expiry_warn_days, utc_now())
    if finding.code == "tls.incomplete_chain":
        finding = with_downloaded_issuer(probe.run, endpoint, found, finding)
    return replace(finding, fact=found, evidence=typed_evidence(found, finding.evidence))


def with_downloaded_issuer(
    ctx: RunContext, endpoint: Endpoint, found: tls_probe.Assessment, finding: Finding
) -> Finding:
    """Prove an incomplete chain the way browsers mend one: download the issuer, verify with it added.

    The verdict stays ``tls.incomplete_chain`` (the server must send the
    intermediate); what the download adds is certainty, and whether the root
    above the intermediate is trusted here as well.
    """
    from dtdoctor.net import aia
    from dtdoctor.net.certs import cert_facts

    url = finding.details.get("missing_issuer_url")
    presented = found.presented
    if not url or presented is None or not presented.chain:
        return finding
    download = aia.download_issuer(ctx, str(url), presented.chain[0])
    evidence: dict[str, Any] = {"url": download.url}
    details = {**finding.details, "issuer_download": evidence}
    if download.issuer is None:
        evidence["error"] = download.error
        return replace(finding, details=details)
    issuer = cert_facts(download.issuer)
    evidence["issuer"] = issuer.short()
    verified = aia.verify_with_issuer(endpoint, found.route, download.issuer, found.ca_bundle, ctx.timeout)
    if verified.ok:
        evidence["chain_verifies"] = True
        summary = (
            f"{endpoint.host} sent only its own certificate, not the intermediate '{issuer.subject_cn}' that issued "
            f"it; with '{issuer.subject_cn}' downloaded from {url} the chain verifies, so the server's chain is the "
            "only problem (browsers download the intermediate themselves; most agents and command-line tools do not)"
        )
        return replace(finding, summary=summary, details=details)
    if verified.outcome != tls_probe.VERIFY_FAILED:
        evidence["error"] = f"the handshake to verify with it failed: {verified.message}"
        return replace(finding, details=details)
    evidence["chain_verifies"] = False
    evidence["verify_error"] = verified.verify_message
    root_name = issuer.issuer_cn
    summary = (
        f"{endpoint.host} sent only its own certificate, not the intermediate '{issuer.subject_cn}' that issued it; "
        f"even with '{issuer.subject_cn}' downloaded from {url} the chain does not verify here "
        f"({verified.verify_message}): '{root_name}' above it is not trusted either"
    )
    remediation = (
        f"{finding.remediation} Then make '{root_name}' trusted: "
        + _remediation_for_ca(endpoint, f"'{root_name}'")
    )
    return replace(finding, summary=summary, details=details, remediation=remediation)


def https_endpoints(ctx: RunContext) -> list[Endpoint]:
    return [endpoint for endpoint in ctx.settings.remote_endpoints if endpoint.scheme == "https"]


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = https_endpoints(ctx)
    if not endpoints:
        # Plain-HTTP loopback endpoints have no TLS to judge.
        return [] if ctx.settings.remote_endpoints else config_url.no_endpoint_probes(ctx)

    def probe_for(endpoint: Endpoint) -> Probe:
        return Probe(
            endpoint.address,
            lambda probe: probe_endpoint(endpoint, probe),
            requires=proxy_check.route_requirements(ctx, endpoint),
            budget=7.0,
            prepare=load_trust,
        )

    return [probe_for(endpoint) for endpoint in endpoints]


CHECK = Check(
    id=ID,
    title="TLS certificate and trust",
    codes=emits(CODES, proxy_check.TUNNEL_CODES, config_url.NO_ENDPOINT_CODES),
    plan=plan,
)
