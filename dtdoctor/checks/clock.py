"""``clock``: does this host's clock agree with each Dynatrace server's?

Certificates and token expiry are judged by the local clock, so a skew of
minutes breaks things that look unrelated. One small HTTPS request per host
(``GET <env>/api/v1/time``, through the proxy when one applies, over a
connection of its own made by ``net/http.py`` like every API request) gives the
server's ``Date`` header and, when the server answers it, Dynatrace's own
time in epoch milliseconds. The result says whether NTP synchronisation is
active, where the OS tells.

A difference says nothing about which clock is wrong. What does: this host's
NTP synchronisation, and the other servers of the same run (their probes
share what they measured on a board). A server that agrees with this host
puts the blame on the one that does not; servers off by the same amount put
it here; with neither, the verdict says it cannot tell.

The time must be the server's. An inspecting proxy (the ``tls`` result
``tls.inspected``, read when it is in: the probe runs after that result,
and makes no request where the ``tls`` check completed no handshake) ends
the TLS itself and may answer in the server's place: an answer that is the
proxy's own (``net/answered_by.py``: squid's error page, RFC 9209's
``Proxy-Status`` error) carries the proxy's clock, so it is reported as no
time of the server's, and neither clock is judged by it. A relayed answer
keeps the server's ``Date`` and body, and is judged as the server's.
"""

from __future__ import annotations

import datetime
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from dtdoctor.checks import config_url, container, tls
from dtdoctor.checks import proxy as proxy_check
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import Endpoint
from dtdoctor.core.codes import Code, codes, emits
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Status
from dtdoctor.net import answered_by, http, tls_probe
from dtdoctor.net import proxy as net_proxy
from dtdoctor.net.proxy import ProxyChoice
from dtdoctor.net.untrusted import ascii_int

ID = "clock"

WARN_SECONDS = 30.0
FAIL_SECONDS = 300.0

CODES = codes(
    Code(
        "clock.ok",
        Status.PASS,
        "This host's clock agrees with the server's within 30 seconds.",
        summary="within {_within:.1f} s of {_host} ({_source}); {_ntp}",
    ),
    Code(
        "clock.skew",
        Status.WARN,
        "This host's clock differs from the server's, and the evidence does not clear this host: a warning above "
        "30 s, a failure above 5 minutes.",
        "No NTP synchronisation, a blocked NTP port, or a virtual machine whose clock drifted after a pause; or "
        "the server's clock, when nothing here proves this host's right (the summary says which the evidence "
        "supports: other servers off by the same amount, or nothing to tell).",
        "Enable time synchronisation: `timedatectl set-ntp true` (systemd-timesyncd), or run chronyd/ntpd "
        "and allow UDP port 123 to your NTP servers (in a container, on its host: a container has no clock of "
        "its own); check with `timedatectl` or `chronyc tracking`. If this host's clock is synchronised and "
        "right, ask whoever runs {_host} to synchronise its clock.",
        when={Status.FAIL: "when the difference is above 5 minutes"},
        summary="this host's clock is {_amount} {_direction} {_host} ({_source}); {_ntp}; {_whose}",
    ),
    Code(
        "clock.server_skew",
        Status.WARN,
        "The server's clock is off, not this host's: this host is synchronised by NTP, or another server of the "
        "same run agrees with this host. A warning above 30 s, a failure above 5 minutes.",
        "The server (a Managed cluster node, an ActiveGate, or a reverse proxy or load balancer that answers in "
        "its name) does not synchronise its clock.",
        "Ask whoever runs {_host} (or the reverse proxy or load balancer that answers in its name) to synchronise "
        "its clock with NTP; this host's clock needs no change.",
        when={Status.FAIL: "when the difference is above 5 minutes"},
        summary="{_host}'s clock is {_amount} {_server_direction} this host's ({_source}); {_whose}",
    ),
    Code(
        "clock.unknown",
        Status.SKIP,
        "The server's time could not be read, so the clock could not be compared.",
        "No HTTPS answer from the server, or an answer without a Date header; or the answer came from a proxy "
        "in between instead of the server (an inspecting proxy's own error page: its Date is the proxy's clock, "
        "so it says nothing about either clock here).",
        "See the tls, proxy and api results for this host: when a proxy answered, the api result says why.",
        summary="could not read the time of {_host}: {_reason}; {_ntp}",
    ),
)


@dataclass(frozen=True)
class TimeSample:
    """One request's view of the server's time, against the local clock at the request's midpoint."""

    local: datetime.datetime
    server: datetime.datetime
    source: str  # "api/v1/time" or "Date header"
    precision_s: float
    round_trip_ms: int
    status: int
    verified: bool
    # Who wrote the answer: the server, or a proxy in between in its place (then the time is not the server's).
    author: answered_by.Author = answered_by.BY_SERVER
    # The issuer of an inspecting proxy's certificate on the way (the tls result's), when one was seen.
    inspected_by: str | None = None
    # A cache's answer: how old it said it was (its Age header), already added to ``server``.
    age_s: int = 0


class NoTime(Exception):
    """No usable time came back; the message says why."""


def _request(endpoint: Endpoint, run: RunContext, verify: bool) -> http.HttpResponse:
    """``GET <endpoint>/api/v1/time`` over a connection of its own, by the transport every API request uses
    (its deadline, proxy route and hostile-server limits); ``verify=False`` reads a server whose certificate
    fails, without the token."""
    try:
        return http.fetch(
            run, "GET", endpoint.api_url("api/v1/time"), authenticate=True, accept="text/plain", verify=verify
        )
    except http.HttpFailure as failure:
        if verify and failure.certificate_rejected:
            raise _Unverified() from None
        raise NoTime(failure.message) from None


class _Unverified(Exception):
    """The certificate failed verification: the tls check reports it; the time can still be read."""


def sample_time(
    endpoint: Endpoint, run: RunContext, inspected_by: str | None = None, rejected: bool = False
) -> TimeSample:
    """Ask the server for its time; the token goes only over a verified connection to a configured host.

    ``inspected_by``: the issuer of an inspecting proxy's certificate on the way (the ``tls`` result's).
    ``rejected``: this run's ``tls`` handshake with the same store rejected the certificate, so a verified
    request is not tried again (through a slow proxy it costs a tunnel of its own).
    """
    verified = not rejected
    try:
        answer = _request(endpoint, run, verify=verified)
    except _Unverified:
        # The certificate problem is the tls check's to report; the Date header is still evidence of time.
        verified = False
        answer = _request(endpoint, run, verify=False)
    sent, received = answer.sent_at, answer.answered_at
    local = datetime.datetime.fromtimestamp((sent + received) / 2, datetime.timezone.utc)
    round_trip_ms = round((received - sent) * 1000)
    status = answer.status
    author = answered_by.classify(status, answer.headers, inspected_by is not None)
    # A cache (squid on a hit) keeps the server's Date and body and says how old they are: RFC 9111, 5.1.
    age = ascii_int(answer.headers.get("age", "").strip(), 10) or 0
    server = _api_time(answer.body) if status == 200 and author.by == answered_by.SERVER else None
    source, precision = "api/v1/time", (received - sent) / 2 + (1 if age else 0)  # Age counts whole seconds
    if server is None:
        server, source, precision = _date_header(answer), "Date header", precision + 0.5
    server += datetime.timedelta(seconds=age)
    return TimeSample(local, server, source, precision, round_trip_ms, status, verified, author, inspected_by, age)


def _date_header(answer: http.HttpResponse) -> datetime.datetime:
    """The answer's ``Date``, at the middle of its second; ``NoTime`` when there is none to read."""
    from email.utils import parsedate_to_datetime

    date = answer.headers.get("date")
    if not date:
        raise NoTime(f"the answer (HTTP {answer.status}) had no Date header")
    try:
        server = parsedate_to_datetime(date)
        if server.tzinfo is None:
            server = server.replace(tzinfo=datetime.timezone.utc)
        # The Date header is truncated to the second: its middle is the best estimate.
        return server + datetime.timedelta(milliseconds=500)
    except (TypeError, ValueError, IndexError, OverflowError):
        # A malformed date, or one at the edge of what datetime can hold (year 9999).
        raise NoTime(f"the Date header {date[:80]!r} cannot be read") from None


def _api_time(body: bytes) -> datetime.datetime | None:
    """Dynatrace's time in epoch milliseconds, or None when the body is not a usable one."""
    # 12 to 20 digits (1973 onwards): anything shorter or longer is not a cluster time.
    milliseconds = ascii_int(body.decode("ascii", errors="replace").strip(), 20)
    if milliseconds is None or milliseconds < 10**11:
        return None
    try:
        return datetime.datetime.fromtimestamp(milliseconds / 1000, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None  # beyond the years datetime or the platform can represent: fall back to the Date header


def judge(endpoint: Endpoint, sample: TimeSample, ntp: Any, others: Mapping[str, float]) -> Finding:
    """The code for one server's difference, and whose clock the evidence blames (``others``: the
    differences the run measured with its other servers, by host)."""
    skew = (sample.local - sample.server).total_seconds()
    details = _sample_details(sample, ntp)
    details["compared_with"] = {host: round(other, 3) for host, other in others.items()}
    amount = abs(skew)
    details.update(
        _source=f"{sample.source}, relayed by the inspecting proxy" if sample.inspected_by else sample.source,
        _host=endpoint.host,
        _ntp=ntp.sentence,
        _amount=_duration(amount),
        _direction="ahead of" if skew > 0 else "behind",
        _server_direction="behind" if skew > 0 else "ahead of",
        _within=max(amount, sample.precision_s),
    )
    status = next((status for limit, status in _SKEW if amount > limit), None)
    if status is None:
        return Finding("clock.ok", details=details)
    code, side = whose(skew, ntp, others)
    details["blamed"] = _BLAMED[side]
    details["_whose"] = _whose_words(side, endpoint.host, ntp, others, skew)
    return Finding(code, details=details, status=status)


def _sample_details(sample: TimeSample, ntp: Any) -> dict[str, Any]:
    """What a sample shows, for the details: both times, their difference, and where the time came from."""
    details: dict[str, Any] = {
        "local_utc": sample.local.isoformat(timespec="milliseconds"),
        "server_utc": sample.server.isoformat(timespec="milliseconds"),
        "skew_s": round((sample.local - sample.server).total_seconds(), 3),
        "precision_s": round(sample.precision_s, 3),
        "source": sample.source,
        "http_status": sample.status,
        "verified_connection": sample.verified,
        "round_trip_ms": sample.round_trip_ms,
        "answered_by": sample.author.by,
        "ntp": ntp.to_json(),
    }
    if sample.inspected_by:
        details["inspected_by"] = sample.inspected_by
    if sample.author.evidence:
        details["proxy_said"] = sample.author.evidence
    if sample.age_s:
        details["age_s"] = sample.age_s
    return details


# Classify the difference, largest limit first.
_SKEW = ((FAIL_SECONDS, Status.FAIL), (WARN_SECONDS, Status.WARN))


# What each kind of evidence says, as the details' ``blamed``.
_BLAMED = {"agrees": "server", "ntp": "server", "this_host": "this_host", "cannot_tell": "cannot_tell"}


def whose(skew: float, ntp: Any, others: Mapping[str, float]) -> tuple[str, str]:
    """Whose clock the evidence blames, first evidence first: (code, kind of evidence)."""
    from dtdoctor.host.timesync import SYNCHRONIZED

    if _agreeing(others):
        return "clock.server_skew", "agrees"
    if ntp.state == SYNCHRONIZED:
        return "clock.server_skew", "ntp"
    if _alike(skew, others):
        return "clock.skew", "this_host"
    return "clock.skew", "cannot_tell"


def _agreeing(others: Mapping[str, float]) -> list[str]:
    return [host for host, other in others.items() if abs(other) <= WARN_SECONDS]


def _alike(skew: float, others: Mapping[str, float]) -> list[str]:
    return [host for host, other in others.items() if abs(other - skew) <= WARN_SECONDS]


def _whose_words(side: str, host: str, ntp: Any, others: Mapping[str, float], skew: float) -> str:
    """The clause that says whose clock the evidence blames, and why."""
    if side == "agrees":
        agreeing = _agreeing(others)
        closest = max(1.0, max(abs(others[name]) for name in agreeing))
        return (
            f"{_names(agreeing)} {_verb(agreeing, 'agrees', 'agree')} with this host to within {_duration(closest)}, "
            f"so {host}'s clock is the one that is off"
        )
    if side == "ntp":
        return f"NTP synchronisation is active here ({ntp.service}), so {host}'s clock is the one that is off"
    if side == "this_host":
        alike = _alike(skew, others)
        return (
            f"{_names(alike)} {_verb(alike, 'is', 'are')} off by the same amount, so this host's clock is the "
            "likelier one to be off"
        )
    if others:
        compared = sorted(others)
        return (
            f"{_names(compared)} {_verb(compared, 'was', 'were')} compared too and "
            f"{_verb(compared, 'disagrees', 'disagree')} with both this host and {host}, so the evidence cannot "
            "tell whose clock is off"
        )
    return "with no other server's time to compare, dtdoctor cannot tell which of the two clocks is wrong"


def _names(hosts: Sequence[str]) -> str:
    return hosts[0] if len(hosts) == 1 else f"{', '.join(hosts[:-1])} and {hosts[-1]}"


def _verb(hosts: Sequence[str], one: str, many: str) -> str:
    return one if len(hosts) == 1 else many


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 5400:  # up to 90 min; beyond, hours (so two hours read the same either side of 7200 s)
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


class Board:
    """What this run's clock probes measured, so each server is judged against the others.

    Every probe posts its server's difference (None when it got no time).
    Each probe starts once every server's route result is in (``after``), so
    it knows which other probes run (the others are skipped); it waits, up to
    a deadline, for those still measuring. They started at about the same
    time, so the wait costs at most what the slowest request costs anyway.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._skews: dict[str, float | None] = {}

    def post(self, host: str, skew: float | None) -> None:
        with self._changed:
            self._skews.setdefault(host, skew)
            self._changed.notify_all()

    def others(self, expected: Sequence[str], until: float) -> dict[str, float]:
        """The ``expected`` servers' differences, waiting until the monotonic ``until`` for those not in yet."""
        with self._changed:
            self._changed.wait_for(
                lambda: all(name in self._skews for name in expected), timeout=max(0.0, until - time.monotonic())
            )
            found = {name: self._skews.get(name) for name in expected}
        return {name: skew for name, skew in found.items() if skew is not None}


# How long a probe waits for the other servers' times, in per-probe timeouts from its start: a time request
# ends within two timeouts (http.fetch's deadline, the connect included), twice where the certificate fails
# and the request is made again unverified, within the probe's budget of five.
_BOARD_WAIT = 4.0
_RUNS = (Status.PASS, Status.WARN)  # a probe whose route result has another status is skipped by the runner


def probe_host(endpoint: Endpoint, probe: ProbeContext, board: Board, others: Mapping[str, Endpoint]) -> Finding:
    started = time.monotonic()
    try:
        measured = _measure(endpoint, probe)
        if isinstance(measured, Finding):
            return measured
        sample, ntp, route = measured
        board.post(endpoint.host, (sample.local - sample.server).total_seconds())
        running = [host for host, other in others.items() if _will_run(probe, other)]
        finding = judge(endpoint, sample, ntp, board.others(running, started + _BOARD_WAIT * probe.timeout))
    finally:
        board.post(endpoint.host, None)  # no-op once the difference was posted; never leaves others waiting
    details = {**finding.details, "route": proxy_check.route_details(route)}
    evidence = proxy_check.route_evidence(route, http_status=sample.status, latency_ms=sample.round_trip_ms)
    return replace(finding, details=details, evidence=evidence)


def _will_run(probe: ProbeContext, endpoint: Endpoint) -> bool:
    """Whether the clock probe of ``endpoint`` runs: its route results (when planned) are usable."""
    found = (probe.result(*key) for key in proxy_check.route_requirements(probe.run, endpoint))
    return all(result is None or result.status in _RUNS for result in found)


def _measure(endpoint: Endpoint, probe: ProbeContext) -> Finding | tuple[TimeSample, Any, ProxyChoice]:
    """This server's time, this host's NTP state and the route; ``clock.unknown`` when no time of the server's
    came back (none at all, or the answer was a proxy's own)."""
    from dtdoctor.host.timesync import ntp_status, seen_from_container

    run = probe.run
    ntp = run.memo("timesync.ntp_status", lambda: ntp_status(run.root))
    found = container.detection(probe)
    if found is not None and found.is_container and not found.weak_only:
        ntp = seen_from_container(ntp, found.runtime)
    route = net_proxy.route(run, endpoint)
    handshake = _tls_seen(probe, endpoint)
    try:
        if handshake is not None and not handshake.completed:
            raise NoTime(f"no TLS handshake with {endpoint.host} completed ({handshake.code}: see the tls result)")
        sample = sample_time(endpoint, run, handshake.inspected_by if handshake else None,
                             handshake is not None and handshake.rejected)
    except NoTime as exc:
        return _unknown(endpoint, str(exc), ntp, route)
    if sample.author.by != answered_by.SERVER:
        return _not_the_servers(endpoint, sample, ntp, route)
    return sample, ntp, route


def _unknown(
    endpoint: Endpoint, reason: str, ntp: Any, route: ProxyChoice, details: Mapping[str, Any] | None = None
) -> Finding:
    kept = {**(details or {}), "ntp": ntp.to_json(), "route": proxy_check.route_details(route)}
    words = {"_host": endpoint.host, "_reason": reason, "_ntp": ntp.sentence}
    return Finding("clock.unknown", details={**kept, **words}, evidence=proxy_check.route_evidence(route))


# Why an answer's time is not the server's, by who wrote the answer (net.answered_by).
_NOT_THE_SERVERS = {
    answered_by.PROXY: "the answer came from the proxy in between, not from {host} ({said}): its {source} is the "
    "proxy's clock, which says nothing about either clock here",
    answered_by.CANNOT_TELL: "the answer ({said}) may be the inspecting proxy's own, not {host}'s: its {source} may "
    "be the proxy's clock, so neither clock is judged by it",
}


def _not_the_servers(endpoint: Endpoint, sample: TimeSample, ntp: Any, route: ProxyChoice) -> Finding:
    """``clock.unknown`` for an answer a proxy wrote in the server's place; the proxy's difference is kept, but
    blames and clears nothing."""
    details = _sample_details(sample, ntp)
    details["proxy_skew_s"] = details.pop("skew_s")
    details.pop("server_utc")
    reason = _NOT_THE_SERVERS[sample.author.by].format(
        host=endpoint.host, said=sample.author.evidence, source=sample.source
    )
    return _unknown(endpoint, reason, ntp, route, details)


@dataclass(frozen=True)
class _Handshake:
    """What this run's ``tls`` result for the endpoint says: whether a handshake completed, the issuer of an
    inspecting proxy's certificate, and whether the store a verified request uses rejected the certificate."""

    code: str
    completed: bool
    inspected_by: str | None
    rejected: bool


def _tls_seen(probe: ProbeContext, endpoint: Endpoint) -> _Handshake | None:
    """The ``tls`` result of this endpoint, when it is in and shared its handshakes; None otherwise."""
    result = probe.result(tls.ID, endpoint.address)
    found = probe.fact(tls.ID, endpoint.address)
    if result is None or not isinstance(found, tls_probe.Assessment):
        return None
    inspected = result.details.get("inspected_by") if result.code == "tls.inspected" else None
    rejected = found.system.outcome == tls_probe.VERIFY_FAILED  # the store and bundle http.fetch verifies with
    return _Handshake(result.code, found.presented is not None, str(inspected) if inspected else None, rejected)


def plan(ctx: RunContext) -> list[Probe]:
    endpoints = tls.https_endpoints(ctx)
    if not endpoints:
        return [] if ctx.settings.remote_endpoints else config_url.no_endpoint_probes(ctx)
    by_host: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        by_host.setdefault(endpoint.host.lower(), endpoint)
    board = Board()

    def probe_for(endpoint: Endpoint) -> Probe:
        others = {other.host: other for other in by_host.values() if other is not endpoint}
        return Probe(
            endpoint.host,
            lambda probe: probe_host(endpoint, probe, board, others),
            requires=proxy_check.route_requirements(ctx, endpoint),
            budget=5.0,
            # Every other server's route result, read (never required) to know which clock probes run; this
            # endpoint's tls result (whether a handshake completed, and whether an inspecting proxy's
            # certificate was seen); and the container check's detection (a container's clock is its host's).
            after=(
                *(key for other in others.values() for key in proxy_check.route_requirements(ctx, other)),
                (tls.ID, endpoint.address),
                container.KEY,
            ),
        )

    return [probe_for(endpoint) for endpoint in by_host.values()]


CHECK = Check(id=ID, title="Clock", codes=emits(CODES, config_url.NO_ENDPOINT_CODES), plan=plan)
