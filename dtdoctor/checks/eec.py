"""``eec``: does OneAgent's local ingest endpoint (the EEC) answer on 127.0.0.1:<port>?

Three pieces of evidence, each honest about what it cannot see:
1. a TCP connect to 127.0.0.1 (and to ``::1`` and every address of
   ``localhost``, since clients written with ``http://localhost:14499`` may
   try ``::1`` first while the EEC binds 127.0.0.1 only);
2. a ``GET`` of the ingest path, which creates nothing. The EEC identifies
   itself with a ``Server: EEC`` response header (Dynatrace docs, "OneAgent
   log ingest API"). What it answers to a GET is not documented, so an HTTP
   answer without that header is judged by the process holding the port, and
   "cannot tell" is a result of its own (``eec.unverified``);
3. who holds the port (process name, pid, executable, user, read from
   Linux's ``/proc`` by ``host/procfs.py``, psutil elsewhere; another
   user's process needs root to be named): the verdict where the answer
   does not name the EEC, evidence alongside it where it does.

The endpoint does not exist inside containers: there, nothing listening
becomes ``eec.unavailable_in_container`` with the ActiveGate URL to use.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field, replace
from typing import Mapping

from dtdoctor import __version__, host
from dtdoctor.checks import container
from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.config import format_address
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import Evidence, Status
from dtdoctor.host.container import Detection
from dtdoctor.host.local_endpoint import (
    EEC_HOST,
    EEC_INGEST_PATH,
    EecPort,
    eec_port,
    eec_target,
    installation,
    oneagentctl,
    relies_on_local_endpoint,
)
from dtdoctor.host.pod_network import pod_network
from dtdoctor.host.processes import Owner, listener_owner
from dtdoctor.net import tcp as net_tcp
from dtdoctor.net.proxy import no_proxy_match
from dtdoctor.net.untrusted import ascii_int

ID = "eec"

ENABLE_STEPS = (
    "In Dynatrace go to Settings > Preferences > Extension Execution Controller and turn on "
    "\"Enable Extension Execution Controller\" and \"Enable local HTTP Metric, Log and Event Ingest API\" "
    "(for the environment, a host group, or this host in its host settings). The host's OneAgent must run in "
    "Full-Stack or Infrastructure Monitoring mode (not Discovery)."
)
ACTIVEGATE_FORM = "https://<activegate>:9999/e/<env-id>/api/v2/events/ingest"

CODES = codes(
    Code(
        "eec.listening",
        Status.PASS,
        "OneAgent's local ingest endpoint answers on 127.0.0.1.",
        "The Extension Execution Controller and its local ingest API are enabled.",
    ),
    Code(
        "eec.not_listening",
        Status.FAIL,
        "Nothing listens on OneAgent's local ingest port on 127.0.0.1.",
        "OneAgent is not installed or not running, the Extension Execution Controller or its local HTTP ingest "
        "API is turned off, the host runs in Discovery mode, or OneAgent uses another port. Where the only "
        "container evidence is weak (/.dockerenv alone), this may also be a container, and the result says so.",
        ENABLE_STEPS,
        when={
            Status.WARN: "when OneAgent is installed but events do not rely on its endpoint (an environment URL "
            "is configured and no --eec-port)",
            Status.SKIP: "when OneAgent is not installed and events go to the configured environment",
        },
    ),
    Code(
        "eec.wrong_service",
        Status.FAIL,
        "The port is held by something that is not OneAgent's ingest endpoint.",
        "Another program took the port (often before OneAgent started), or the configured port is wrong.",
        "Stop or move the other program, or move OneAgent's endpoint: "
        "`oneagentctl --set-extensions-ingest-port=<port> --restart-service` (then use --eec-port <port>).",
    ),
    Code(
        "eec.unverified",
        Status.WARN,
        "Something answers on the port, but neither its answer nor its process show it is OneAgent's endpoint.",
        "The answer carries no `Server: EEC` header and the process holding the port could not be named "
        "(that needs root), or the program answered nothing to an HTTP request.",
        "Run dtdoctor as root to name the process holding the port, or send a test event with --send-test-event.",
    ),
    Code(
        "eec.proxy_not_bypassed",
        Status.WARN,
        "The endpoint answers, but a proxy variable applies to http://127.0.0.1 traffic without NO_PROXY "
        "excluding it.",
        "HTTP_PROXY / http_proxy / ALL_PROXY is set and NO_PROXY does not list 127.0.0.1 and localhost; "
        "clients that honour the variables send the local ingest traffic to the proxy, which cannot reach "
        "this host's loopback.",
        "Add 127.0.0.1 and localhost to NO_PROXY (and no_proxy), e.g. `export NO_PROXY=127.0.0.1,localhost,$NO_PROXY`.",
    ),
    Code(
        "eec.unavailable_in_container",
        Status.FAIL,
        "This is a container: OneAgent's local ingest endpoint is not available here.",
        "OneAgent's local ingest API is bound to the host's own loopback and not offered in containerized setups.",
        f"Send events through an ActiveGate instead: POST to {ACTIVEGATE_FORM} with an API token that has the "
        "events.ingest scope (or straight to the environment, https://<env-id>.live.dynatrace.com/api/v2/events/ingest).",
        when={Status.SKIP: "when events go to the configured environment instead (an environment URL, no --eec-port)"},
    ),
)

_READ_LIMIT = 16384


@dataclass(frozen=True)
class Answer:
    """What the port said to an HTTP request.

    ``kind``: ``http`` (a status line), ``banner`` (bytes that are not HTTP),
    ``silent`` (nothing within the timeout), ``closed`` (closed without a
    byte), ``error`` (the connection failed).
    """

    kind: str
    status: int | None = None
    reason: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    first_line: str = ""
    error: str = ""
    elapsed_ms: int = 0

    @property
    def server(self) -> str:
        return self.headers.get("server", "")

    @property
    def says_eec(self) -> bool:
        return self.server.strip().upper().split("/")[0] == "EEC"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"kind": self.kind, "ms": self.elapsed_ms}
        if self.status is not None:
            data["status"] = self.status
            data["reason"] = self.reason
            data["server_header"] = self.server or None
            data["content_type"] = self.headers.get("content-type")
        if self.first_line and self.kind == "banner":
            data["banner"] = self.first_line
        if self.error:
            data["error"] = self.error
        return data


def _printable(data: bytes, limit: int = 80) -> str:
    text = data.decode("latin-1")
    cleaned = "".join(ch if ch.isprintable() else "." for ch in text)
    return cleaned[:limit]


def parse_answer(data: bytes) -> Answer:
    if not data:
        return Answer("closed")
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n") if b"\r\n" in head else head.split(b"\n")
    status_line = lines[0].decode("latin-1", errors="replace").strip()
    parts = status_line.split(" ", 2)
    status = ascii_int(parts[1], 3) if len(parts) >= 2 and parts[0].startswith("HTTP/") else None
    if status is not None and len(parts[1]) == 3:
        headers: dict[str, str] = {}
        for raw in lines[1:]:
            name, sep, value = raw.decode("latin-1", errors="replace").partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        return Answer("http", status, parts[2] if len(parts) > 2 else "", headers, status_line)
    first = data.split(b"\n", 1)[0]
    return Answer("banner", first_line=_printable(first))


def http_probe(address: str, port: int, timeout: float) -> Answer:
    """Send ``GET <ingest path>`` over a plain socket (no proxy can apply) and read the head of the answer."""
    started = time.monotonic()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    request = (
        f"GET {EEC_INGEST_PATH} HTTP/1.1\r\nHost: {format_address(address, port)}\r\n"
        f"User-Agent: dtdoctor/{__version__}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    received = bytearray()
    try:
        with socket.socket(family, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect((address, port))
            try:
                connection.sendall(request)
            except OSError:
                pass  # a banner-and-close service may already be gone; read what it sent
            _read_head(connection, timeout, received)
    except OSError as exc:  # socket.timeout is an OSError
        return _cut_short(exc, bytes(received), timeout, round((time.monotonic() - started) * 1000))
    return _timed(parse_answer(bytes(received)), round((time.monotonic() - started) * 1000))


def _read_head(connection: socket.socket, timeout: float, received: bytearray) -> None:
    """Read into ``received`` up to the end of the head; the socket timeout applies per read, so a
    service trickling its answer must still end in time."""
    deadline = time.monotonic() + timeout
    while len(received) < _READ_LIMIT and b"\r\n\r\n" not in received:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("the answer did not complete in time")
        connection.settimeout(min(timeout, remaining))
        chunk = connection.recv(4096)
        if not chunk:
            break
        received += chunk


def _cut_short(exc: OSError, received: bytes, timeout: float, elapsed: int) -> Answer:
    """What a failed exchange still tells: the part of the answer that came, or why none did."""
    if received:
        return _timed(parse_answer(received), elapsed)
    if isinstance(exc, socket.timeout):
        return Answer("silent", error=f"no answer within {timeout:g} s", elapsed_ms=elapsed)
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        # Accepted, then closed with our request unread: the kernel answers with a reset.
        return Answer("closed", error="connection reset", elapsed_ms=elapsed)
    return Answer("error", error=exc.strerror or str(exc), elapsed_ms=elapsed)


def _timed(answer: Answer, elapsed: int) -> Answer:
    return Answer(answer.kind, answer.status, answer.reason, answer.headers, answer.first_line, "", elapsed)


def localhost_addresses() -> list[str]:
    """What ``localhost`` resolves to here, in the order clients try them."""
    try:
        infos = socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    ordered: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in ordered:
            ordered.append(address)
    return ordered


def proxy_exposure(environ: Mapping[str, str], port: int = 0) -> dict[str, object] | None:
    """A proxy variable that applies to http://127.0.0.1 or http://localhost without a NO_PROXY exclusion."""
    names = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
    applying = [name for name in names if environ.get(name, "").strip()]
    if not applying:
        return None
    no_proxy = next((environ[name] for name in ("no_proxy", "NO_PROXY") if environ.get(name, "").strip()), "")
    uncovered = [name for name in (EEC_HOST, "localhost") if no_proxy_match(name, port, no_proxy) is None]
    if not uncovered:
        return None
    return {"proxy_variables": applying, "no_proxy": no_proxy or None, "not_excluded": uncovered}


def _address_note(attempts: list[net_tcp.Attempt], localhost: list[str]) -> tuple[str, dict[str, object]]:
    """Which loopback addresses answer, and what that means for ``localhost`` URLs."""
    outcome = {attempt.address: attempt.outcome for attempt in attempts}
    details: dict[str, object] = {"localhost_resolves_to": localhost}
    v4_open = outcome.get(EEC_HOST) == net_tcp.OPEN
    note = _ipv6_note(v4_open, outcome.get("::1"), localhost)
    if v4_open and localhost and not any(outcome.get(address) == net_tcp.OPEN for address in localhost):
        note += "; localhost does not reach it"
    return note, details


def _ipv6_note(v4_open: bool, v6: str | None, localhost: list[str]) -> str:
    """The endpoint binds 127.0.0.1 only: what answers on ::1, and whether localhost tries it first."""
    if v4_open and v6 not in (net_tcp.OPEN, None):
        if localhost and ":" in localhost[0]:
            return (
                "; not on ::1, and localhost resolves to ::1 first here: clients using http://localhost try ::1 "
                "before 127.0.0.1 (use http://127.0.0.1 to avoid it)"
            )
        return "; not on ::1 (expected: the endpoint binds 127.0.0.1 only)"
    if not v4_open and v6 == net_tcp.OPEN:
        return "; but something answers on [::1] on that port"
    return ""


def _in_container(ctx: RunContext, found: Detection, relies: bool, note: str,
                  details: dict[str, object]) -> Finding:
    """Nothing listens, in a container on its own network: the endpoint is not offered there."""
    target = eec_target(ctx)
    details["container"] = found.runtime
    remediation = (
        f"This is a {found.runtime} container: OneAgent's local endpoint is not offered here. "
        + _activegate_advice(ctx)
    )
    status = Status.FAIL if relies else Status.SKIP
    summary = f"nothing listens on {target}: this is a {found.runtime} container{note}"
    if not relies:
        summary += "; events go to the configured environment instead"
    return Finding("eec.unavailable_in_container", summary, details, status, remediation)


def _activegate_advice(ctx: RunContext, lead: str = "Send") -> str:
    """Where events go when OneAgent's local endpoint is not offered: an ActiveGate or the environment."""
    environment = ctx.settings.environment
    url = ACTIVEGATE_FORM
    if environment is not None and environment.environment_id:
        url = f"https://<activegate>:9999/e/{environment.environment_id}/api/v2/events/ingest"
    return (
        f"{lead} events through an ActiveGate: POST to {url} with an API token with the events.ingest scope"
        + (f", or straight to {environment.api_url('/api/v2/events/ingest')}" if environment else "")
        + " (set --url / DT_ENVIRONMENT_URL and DT_API_TOKEN to check that path)."
    )


def _container_here(ctx: RunContext, found: Detection | None, details: dict[str, object]) -> Detection | None:
    """The detection when it found a container whose loopback is its own; None on a host.

    A pod on the node's network sees the node's loopback: judged as the node's endpoint.
    """
    network = pod_network(ctx.environ)
    if network is not None:
        details["pod_network"] = network.to_json()
    if found is None or not found.is_container or (network is not None and network.shares_host):
        return None
    return found


def _maybe_container(ctx: RunContext, found: Detection, finding: Finding, details: dict[str, object]) -> Finding:
    """A host whose only container evidence is weak: judged as a host, saying it cannot tell, with both ways on."""
    details["container"] = found.runtime
    details["container_evidence"] = container.weak_evidence(found)
    remediation = f"{finding.remediation} If this is a container, OneAgent's local endpoint is not offered in it: "
    return replace(
        finding,
        summary=f"{finding.summary}; {container.cannot_tell(found)}",
        remediation=remediation + _activegate_advice(ctx, "send"),
    )


def _not_listening(
    ctx: RunContext,
    found: Detection | None,
    port: EecPort,
    v4: net_tcp.Attempt,
    note: str,
    details: dict[str, object],
) -> Finding:
    target = eec_target(ctx)
    relies = relies_on_local_endpoint(ctx)
    maybe = _container_here(ctx, found, details)
    if maybe is not None and not maybe.weak_only:
        return _in_container(ctx, maybe, relies, note, details)

    install = installation(ctx)
    mode_output, _ = oneagentctl(ctx, "--get-monitoring-mode")
    mode = (mode_output or "").strip() or None
    details["oneagent_installed"] = install.installed
    if mode:
        details["monitoring_mode"] = mode
    status = _NOT_LISTENING_STATUS[(relies, install.installed)]
    summary = _nothing_listens(target, v4, note, install.installed, mode, status)
    steps = " ".join(_enable_steps(install.installed, mode, port))
    finding = Finding("eec.not_listening", summary, details, status, steps)
    # Weak evidence only (/.dockerenv alone): no telling whether this is a container.
    return finding if maybe is None else _maybe_container(ctx, maybe, finding, details)


def _nothing_listens(
    target: str, v4: net_tcp.Attempt, note: str, installed: bool, mode: str | None, status: Status
) -> str:
    what = {net_tcp.REFUSED: "connection refused", net_tcp.TIMEOUT: "no answer (packets dropped)"}.get(
        v4.outcome, f"cannot connect ({v4.reason or v4.outcome})"
    )
    summary = f"nothing listens on {target}: {what}{note}"
    if not installed:
        summary += "; OneAgent is not installed here"
    if mode == "discovery":
        summary += "; OneAgent runs in Discovery mode"
    if status is Status.SKIP:
        summary += " (not needed: events go to the configured environment)"
    return summary


# eec.not_listening by (events rely on the local endpoint, OneAgent is installed): see the code's ``when``.
_NOT_LISTENING_STATUS = {
    (True, True): Status.FAIL,
    (True, False): Status.FAIL,
    (False, True): Status.WARN,
    (False, False): Status.SKIP,
}


def _enable_steps(installed: bool, mode: str | None, port: EecPort) -> list[str]:
    """What to do, first things first: install, leave Discovery mode, turn the endpoint on, check the port."""
    steps = [ENABLE_STEPS]
    if not installed:
        steps.insert(0, "Install OneAgent on this host in Full-Stack or Infrastructure Monitoring mode.")
    if mode == "discovery":
        steps.insert(0, "Switch OneAgent out of Discovery mode: `oneagentctl --set-monitoring-mode=infra-only "
                     "--restart-service` (or fullstack).")
    if port.source == "default" and port.note and installed:
        steps.append(f"The port is the default {port.port}; {port.note}. If OneAgent uses another port, pass "
                     "--eec-port (run `oneagentctl --get-extensions-ingest-port` as root to read it).")
    return steps


def _owner_words(owner: Owner) -> str:
    if owner.process is not None:
        process = owner.process
        extra = f", {process.exe}" if process.exe else ""
        user = f", user {process.user}" if process.user else ""
        return f"{process.label()}{extra}{user}"
    return owner.note or "an unknown process"


def judge_open(ctx: RunContext, owner: Owner, answer: Answer, note: str, details: dict[str, object]) -> Finding:
    """Whose port it is and what it answered; a OneAgent endpoint a proxy variable would capture is flagged."""
    target = eec_target(ctx)
    finding = _oneagent_listening(target, owner, answer, note, details) or _other_service(
        target, owner, answer, details
    )
    if finding.code != "eec.listening":
        return finding
    exposure = proxy_exposure(ctx.environ, eec_port(ctx).port)
    if exposure is None:
        return finding
    details["proxy"] = exposure
    names = "/".join(exposure["proxy_variables"])  # type: ignore[arg-type]
    return Finding(
        "eec.proxy_not_bypassed",
        finding.summary + f"; but {names} is set and NO_PROXY does not exclude "
        + ", ".join(exposure["not_excluded"])  # type: ignore[arg-type]
        + ": clients that honour the proxy variables would send local events to the proxy",
        details,
    )


def _oneagent_listening(
    target: str, owner: Owner, answer: Answer, note: str, details: dict[str, object]
) -> Finding | None:
    """OneAgent's endpoint: it says so (Server: EEC), or a OneAgent process holds the port (weaker)."""
    process = owner.process
    if answer.says_eec:
        evidence = f"answers HTTP {answer.status} with Server: {answer.server}"
        if process is not None:
            evidence += f", held by {process.label()}"
        return Finding("eec.listening", f"OneAgent's local ingest endpoint answers on {target}: {evidence}{note}",
                       details)
    if process is None or not process.is_oneagent:
        return None
    said = f"HTTP {answer.status}" if answer.kind == "http" else f"no HTTP answer ({answer.kind})"
    return Finding(
        "eec.listening",
        f"{target} is held by OneAgent's {process.label()}; it answered {said} without a Server: EEC header "
        f"(weaker evidence){note}",
        details,
    )


def _other_service(target: str, owner: Owner, answer: Answer, details: dict[str, object]) -> Finding:
    """Not OneAgent: a named process, a service that identifies itself, or something unidentified."""
    process = owner.process
    if process is not None and process.name:
        return Finding(
            "eec.wrong_service",
            f"{target} is held by {_owner_words(owner)}, not by OneAgent; it {_answer_words(answer)}",
            details,
            remediation=f"{process.label()} holds port {target.rsplit(':', 1)[1]}. Stop or reconfigure it, or move "
            "OneAgent's endpoint with `oneagentctl --set-extensions-ingest-port=<port> --restart-service` and use "
            "--eec-port <port>.",
        )
    if answer.kind == "banner" or (answer.kind == "http" and answer.server):
        return Finding("eec.wrong_service", f"{target} is not OneAgent's ingest endpoint: it {_answer_words(answer)}"
                       f" (process: {owner.note or 'unknown'})", details)
    return Finding(
        "eec.unverified",
        f"something on {target} {_answer_words(answer)}, but nothing shows it is OneAgent's endpoint "
        f"(process: {owner.note or 'unknown'})",
        details,
    )


def _answer_words(answer: Answer) -> str:
    if answer.kind == "http":
        server = f" (Server: {answer.server})" if answer.server else " (no Server header)"
        return f"answers HTTP {answer.status} {answer.reason}".rstrip() + server
    if answer.kind == "banner":
        return f"sends a non-HTTP greeting {answer.first_line!r}"
    if answer.kind == "silent":
        return "accepts connections but answers nothing to HTTP"
    if answer.kind == "closed":
        return "closes the connection without answering" + (f" ({answer.error})" if answer.error else "")
    return f"fails during the request ({answer.error})"


def probe(probe_ctx: ProbeContext) -> Finding:
    ctx = probe_ctx.run
    if host.platform_name() == "darwin":
        return Finding(
            "check.unsupported",
            "skipped: OneAgent's local ingest endpoint does not exist on macOS",
            {"platform": host.platform_name()},
        )
    port = eec_port(ctx)
    timeout = probe_ctx.timeout
    details: dict[str, object] = {"port": port.to_json()}
    localhost = localhost_addresses()
    addresses = [EEC_HOST, "::1"] + [address for address in localhost if address not in (EEC_HOST, "::1")]
    attempts = net_tcp.connect_all(addresses, port.port, timeout)
    details["attempts"] = [attempt.to_json() for attempt in attempts]
    note, extra = _address_note(attempts, localhost)
    details.update(extra)
    v4 = next(attempt for attempt in attempts if attempt.address == EEC_HOST)
    if v4.outcome != net_tcp.OPEN:
        finding = _not_listening(ctx, container.detection(probe_ctx), port, v4, note, details)
        return replace(finding, evidence=Evidence(route="direct", error=v4.reason or v4.outcome))
    answer = http_probe(EEC_HOST, port.port, timeout)
    details["http"] = answer.to_json()
    owner = listener_owner(port.port, EEC_HOST)
    details["owner"] = owner.to_json()
    # A plain socket to 127.0.0.1: no proxy can apply.
    evidence = Evidence(latency_ms=answer.elapsed_ms, http_status=answer.status, route="direct",
                        error=answer.error or None)
    return replace(judge_open(ctx, owner, answer, note, details), evidence=evidence)


def plan(ctx: RunContext) -> list[Probe]:
    # Up to three timeouts: the connects (concurrent), the HTTP answer, oneagentctl for the mode.
    return [Probe(eec_target(ctx), probe, budget=3, after=(container.KEY,))]


# The target names the port, which may take oneagentctl's answer: planned once the run has started.
CHECK = Check(id=ID, title="OneAgent local ingest endpoint (EEC)", codes=CODES, plan=plan, plan_waits=True)
