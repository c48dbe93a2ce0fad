"""A small, careful HTTP client for the Dynatrace API checks.

Every request dtdoctor makes to Dynatrace goes through ``fetch``, which
enforces the safety rules in one place:

- the ``Authorization`` header is attached per hop, and only when that hop's
  scheme, host and port are a configured Dynatrace endpoint that
  ``Settings.token_may_go_to`` allows (HTTPS, or plain HTTP to loopback);
- redirects are never followed blindly: each one is recorded, and only a
  GET/HEAD redirect within the same scheme, host and port is followed, for
  at most ``MAX_REDIRECTS`` hops; anything else comes back as the redirect
  answer itself so the check can report it;
- bodies are streamed and read up to ``MAX_BODY`` bytes, and the whole
  exchange (headers included) has a deadline that a watchdog enforces by
  shutting the connection down, so a huge, stalled or trickling answer
  cannot hang or swamp a check;
- TLS is verified against the system store plus ``--ca-bundle``; the proxy
  is chosen as curl would (``NO_PROXY`` honoured, loopback always direct).

Requests go over connections of dtdoctor's own (``net/tls_probe.open_stream``:
direct, or through the proxy's CONNECT tunnel, then TLS), spoken with
``http.client`` (``net/wire.py``); a caller can offer an open connection (the
``tls`` check's handshake, the ``api`` request's kept-alive connection) for
the request to take over. httpx, imported only then, carries the one case
left: plain HTTP that a proxy forwards.

Failures come back as ``HttpFailure`` with a ``kind`` the checks turn into
precise result codes.
"""

from __future__ import annotations

import functools
import socket
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urljoin, urlsplit

from dtdoctor.config import Endpoint, Settings, display_url
from dtdoctor.core.context import RunContext
from dtdoctor.net import wire
from dtdoctor.net.connection import HeldConnection
from dtdoctor.net.deadline import Watchdog
from dtdoctor.net.proxy import ProxyChoice, choose_proxy
from dtdoctor.net.tls_probe import ConnectError, open_stream, unverified_context
from dtdoctor.net.trust import SYSTEM, shared_context
from dtdoctor.net.tunnel import TunnelError, proxy_tls_context

if TYPE_CHECKING:
    import ssl

MAX_BODY = 1024 * 1024  # 1 MiB: every legitimate answer dtdoctor asks for is a few hundred bytes
MAX_REDIRECTS = 3
USER_AGENT = "dtdoctor"
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
# How many timeouts one ``fetch`` may take at worst: the exchange has a deadline
# of two timeouts, which the watchdog enforces; the third is margin for a
# connect in progress. Probes that make one request use this as their budget.
BUDGET = 3.0

# Failure kinds.
TIMEOUT = "timeout"  # no answer (connect or first byte) within the timeout
STALLED = "stalled"  # headers arrived, then the body stopped or trickled past the deadline
TLS = "tls"  # the TLS handshake or certificate verification failed
REFUSED = "refused"
CONNECT = "connect"  # any other connection failure (reset, unreachable, DNS)
PROXY = "proxy"  # the proxy refused or failed the tunnel
PROTOCOL = "protocol"  # the peer broke HTTP (closed mid-body, garbage)
INVALID = "invalid"  # the URL cannot be requested


@dataclass(frozen=True)
class Hop:
    """One redirect seen on the way."""

    status: int
    location: str  # shown without query string or credentials
    followed: bool
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"status": self.status, "location": self.location, "followed": self.followed}
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class HttpResponse:
    """A complete (or capped) answer.

    Attributes:
        url: the URL that gave this answer (after same-origin redirects).
        status: HTTP status code.
        http_version: ``HTTP/1.1`` or ``HTTP/2``.
        headers: response headers, names in lower case.
        body: up to ``MAX_BODY`` bytes.
        truncated: the body was longer than the cap; the rest was not read.
        elapsed_ms: from sending the first request to the last byte read.
        hops: redirects seen, in order.
        token_sent: whether the Authorization header went with the final request.
        echoed_token: the body contained the token's secret (replaced by ``<redacted>`` in ``body``).
    """

    url: str
    status: int
    http_version: str
    headers: Mapping[str, str]
    body: bytes
    truncated: bool
    elapsed_ms: int
    hops: tuple[Hop, ...] = ()
    token_sent: bool = False
    echoed_token: bool = False
    # With ``fetch(..., keep=True)``: the connection, open for the next request, when the server keeps it.
    connection: HeldConnection | None = field(default=None, compare=False, repr=False)
    # This host's wall clock (time.time()) when the final request was written and when its answer's headers were
    # in: they bracket the moment the server dated the answer (the clock check's measure).
    sent_at: float = 0.0
    answered_at: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def is_redirect(self) -> bool:
        return self.status in _REDIRECT_STATUSES

    def json(self) -> Any:
        """The parsed body, or raises ``ValueError`` (also for a capped body or one nested too deeply)."""
        if self.truncated:
            raise ValueError(f"the body is larger than {MAX_BODY // 1024} KiB")
        import json

        try:
            return json.loads(self.text)
        except RecursionError:
            # ``[[[[...`` a few thousand levels deep exhausts the parser's stack;
            # callers treat every unreadable body alike, as a ValueError.
            raise ValueError("the JSON body is nested too deeply to read") from None

    def snippet(self, limit: int = 120) -> str:
        """The first characters of the body, on one line, for evidence."""
        text = " ".join(self.text[: limit * 2].split())
        return text[:limit] + ("…" if len(text) > limit or self.truncated else "")


class HttpFailure(Exception):
    """No usable answer; ``kind`` is one of the failure kinds above.

    A plain class, not a frozen dataclass: context managers set attributes
    such as ``__traceback__`` on exceptions passing through them.
    """

    def __init__(
        self, kind: str, message: str, elapsed_ms: int = 0, hops: tuple[Hop, ...] = (),
        certificate_rejected: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.elapsed_ms = elapsed_ms
        self.hops = hops
        # A TLS failure that is the certificate's verification (the handshake itself worked).
        self.certificate_rejected = certificate_rejected

    def __str__(self) -> str:
        return self.message


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the unit redirects may stay within.

    Raises ``ValueError`` for a URL that cannot be split, or whose port is
    not a number from 0 to 65535 (``Location: http://host:99999/``).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def origin_or_none(url: str) -> tuple[str, str, int] | None:
    """``origin(url)``, or None when a server sent a URL that cannot be parsed."""
    try:
        return origin(url)
    except ValueError:
        return None


def endpoint_for(settings: Settings, url: str) -> Endpoint | None:
    """The configured endpoint serving ``url``, if any."""
    wanted = origin(url)
    for endpoint in settings.remote_endpoints:
        if (endpoint.scheme, endpoint.host.lower(), endpoint.port) == wanted:
            return endpoint
    return None


def may_send_token(settings: Settings, url: str) -> bool:
    """The one rule for the Authorization header: a configured host the token may travel to."""
    endpoint = endpoint_for(settings, url)
    return endpoint is not None and settings.token_may_go_to(endpoint)


def safe_location(url: str) -> str:
    """A URL to show: without credentials, query or fragment (they may hold secrets)."""
    try:
        parts = urlsplit(display_url(url))
        return parts._replace(query="", fragment="").geturl()
    except ValueError:
        return "<unparseable URL>"


def _ssl_context(ctx: RunContext) -> ssl.SSLContext:
    # Loading the trust store costs tens of milliseconds: the context the tls check built serves here too.
    return shared_context(SYSTEM, ctx.settings.ca_bundle)


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    import ssl

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        for arg in getattr(current, "args", ()):
            if isinstance(arg, ssl.SSLError):
                return arg
        current = current.__cause__ or current.__context__
    return None


def _describe_tls(error: ssl.SSLError) -> str:
    import ssl

    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {error.verify_message or error.reason}"
    return f"TLS handshake failed: {error.reason or error}"


def _watch_new_stream(watchdog: Watchdog, event: str, info: Mapping[str, Any]) -> None:
    """httpcore's ``trace`` extension: its ``connect_tcp`` and ``start_tls`` events carry each new stream."""
    if not event.endswith(".complete"):
        return
    get_extra_info = getattr(info.get("return_value"), "get_extra_info", None)
    sock = get_extra_info("socket") if callable(get_extra_info) else None
    if isinstance(sock, socket.socket):
        watchdog.watch(sock)


def _classify(exc: Exception, body_started: bool, timeout: float) -> tuple[str, str]:
    """The kind of a failed request and its words: the first row of the table that matches wins."""
    import httpx

    tls = _tls_cause(exc)
    if tls is not None:
        return TLS, _describe_tls(tls)
    text = str(exc)
    rows: tuple[tuple[bool, str, str], ...] = (
        (isinstance(exc, httpx.ProxyError), PROXY, f"the proxy failed the request: {exc}"),
        (
            isinstance(exc, httpx.TimeoutException) and body_started,
            STALLED,
            f"the answer started, then stalled: no further data within {timeout:g} s",
        ),
        (isinstance(exc, httpx.ConnectTimeout), TIMEOUT, f"no connection within {timeout:g} s"),
        (isinstance(exc, httpx.TimeoutException), TIMEOUT, f"no answer within {timeout:g} s"),
        (
            isinstance(exc, httpx.RemoteProtocolError) and body_started,
            PROTOCOL,
            "the server closed the connection before the answer was complete",
        ),
        (isinstance(exc, httpx.RemoteProtocolError), PROTOCOL, f"the server broke the HTTP protocol: {exc}"),
        (
            isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL, ValueError)),
            INVALID,
            f"cannot request this URL: {exc}",
        ),
        (isinstance(exc, httpx.ConnectError) and "refused" in text.lower(), REFUSED, "connection refused"),
        (isinstance(exc, httpx.ConnectError), CONNECT, f"cannot connect: {text or type(exc).__name__}"),
        (isinstance(exc, httpx.DecodingError), PROTOCOL, f"the answer could not be decoded: {exc}"),
    )
    return next(((kind, words) for matches, kind, words in rows if matches), (CONNECT, f"{type(exc).__name__}: {exc}"))


@dataclass
class _Exchange:
    """One request and its redirects: what every hop shares, and the hops so far."""

    ctx: RunContext
    method: str
    accept: str
    content: bytes | None
    authenticate: bool
    limit: float
    started: float
    # The whole exchange, redirects and body included, must finish within this;
    # each socket operation additionally has its own timeout.
    deadline: float
    hops: list[Hop]
    # A connection the caller offers (the tls check's, the api request's): taken when it fits the first hop.
    offered: HeldConnection | None = None
    # The connection the last answer left open, for the next hop or the caller.
    kept: HeldConnection | None = None
    # TLS that verifies nothing (``fetch(..., verify=False)``); None: the system store plus --ca-bundle.
    unverified: ssl.SSLContext | None = None

    def elapsed(self) -> int:
        return round((time.monotonic() - self.started) * 1000)

    def failure(self, kind: str, message: str, certificate_rejected: bool = False) -> HttpFailure:
        return HttpFailure(kind, message, self.elapsed(), tuple(self.hops), certificate_rejected)

    def tls_context(self) -> ssl.SSLContext:
        """The context every TLS connection of this exchange is made with."""
        return self.unverified or _ssl_context(self.ctx)

    def socket_timeout(self) -> float:
        """Each socket operation's limit: the probe's timeout, within what is left of the deadline."""
        return max(0.05, min(self.limit, self.deadline - time.monotonic()))

    def headers(self, token_sent: bool) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": self.accept, "Accept-Encoding": "identity"}
        if self.content is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        token = self.ctx.settings.api_token
        if token_sent and token is not None:
            headers["Authorization"] = token.authorization
        return headers

    def client_options(self, url: str, unparseable: dict[str, str]) -> dict[str, Any]:
        import httpx

        settings = self.ctx.settings
        scheme, host, port = origin(url)
        proxy = choose_proxy(scheme, host, port, settings.proxy, self.ctx.environ)
        options: dict[str, Any] = {
            "verify": self.tls_context(),
            "trust_env": False,  # the proxy is chosen above, from ctx.environ
            "follow_redirects": False,
            "timeout": httpx.Timeout(self.socket_timeout()),
            "event_hooks": {"response": [functools.partial(_set_aside_unparseable_location, unparseable)]},
        }
        if proxy.url and proxy.url.lower().startswith("https://"):
            # TLS to the proxy itself is verified like every other TLS here: system store plus --ca-bundle.
            options["proxy"] = httpx.Proxy(proxy.url, ssl_context=proxy_tls_context(settings.ca_bundle))
        elif proxy.url:
            options["proxy"] = proxy.url
        return options


def fetch(
    ctx: RunContext,
    method: str,
    url: str,
    *,
    json_body: Any = None,
    authenticate: bool = False,
    timeout: float | None = None,
    accept: str = "application/json",
    connection: HeldConnection | None = None,
    keep: bool = False,
    verify: bool = True,
) -> HttpResponse:
    """One request (plus same-origin redirects for GET/HEAD); raises ``HttpFailure``.

    ``authenticate`` asks for the token; whether it is really attached is
    decided per hop by ``may_send_token``. ``connection`` is an open
    connection the request may take over instead of opening one (it is
    taken only when it leads to the same origin, over the same route, with
    the same trust); with ``keep`` the answer carries the connection on,
    when the server keeps it open, for the caller to offer to the next
    request. ``verify=False`` accepts any certificate, to read what a server
    whose certificate fails answers (the clock check's ``Date``): the token
    never goes with it, and no offered connection is taken.
    """
    limit = timeout if timeout is not None else ctx.timeout
    started = time.monotonic()
    if json_body is not None:
        import json  # only runs that send a body pay for it

        content: bytes | None = json.dumps(json_body).encode("utf-8")
    else:
        content = None
    exchange = _Exchange(
        ctx, method, accept, content, authenticate and verify, limit, started, started + limit * 2, [],
        offered=connection if verify else None, unverified=None if verify else unverified_context(),
    )
    try:
        answer = _follow(exchange, url)
    except BaseException:
        _drop(exchange.kept)
        raise
    if keep and exchange.kept is not None:
        return replace(answer, connection=exchange.kept)
    _drop(exchange.kept)
    return answer


def _drop(connection: HeldConnection | None) -> None:
    if connection is not None:
        connection.release()


def _follow(exchange: _Exchange, url: str) -> HttpResponse:
    """The request and the same-origin redirects it may follow."""
    current = url
    while True:
        answer = _hop(exchange, current)
        location = answer.headers.get("location", "") if answer.is_redirect else ""
        if not location:
            return answer
        target, refusal = _redirect_refusal(current, location, exchange.method, len(exchange.hops))
        shown = safe_location(target if target is not None else location)
        if target is None or refusal:
            exchange.hops.append(Hop(answer.status, shown, False, refusal))
            return replace(answer, hops=tuple(exchange.hops))
        exchange.hops.append(Hop(answer.status, shown, True))
        current = target


def _hop(exchange: _Exchange, current: str) -> HttpResponse:
    """One request of the exchange: over dtdoctor's own connection, or httpx where a proxy forwards plain HTTP."""
    settings = exchange.ctx.settings
    token_sent = bool(exchange.authenticate and settings.api_token is not None and may_send_token(settings, current))
    scheme, host, port = origin(current)
    route = choose_proxy(scheme, host, port, settings.proxy, exchange.ctx.environ)
    if scheme == "https" or (scheme == "http" and route.direct):
        return _wire_hop(exchange, current, token_sent, replace(route, ca_bundle=settings.ca_bundle))
    return _httpx_hop(exchange, current, token_sent)


def _httpx_hop(exchange: _Exchange, current: str, token_sent: bool) -> HttpResponse:
    """One request through httpx (a proxy that forwards plain HTTP, or a scheme it names as unsupported)."""
    import ssl

    import httpx

    unparseable: dict[str, str] = {}
    client_options = exchange.client_options(current, unparseable)
    body_started = False
    # Socket timeouts apply per read and httpx hands out the response only
    # after the headers, so a trickle of header bytes would outlast both
    # them and the body loop's check: the watchdog ends it at the deadline.
    watchdog = Watchdog(exchange.deadline - time.monotonic())
    trace = functools.partial(_watch_new_stream, watchdog)
    sent_at = time.time()  # before the connection too: httpx writes the request where this cannot see
    try:
        with httpx.Client(**client_options) as client, watchdog, client.stream(
            exchange.method, current, content=exchange.content, headers=exchange.headers(token_sent),
            extensions={"trace": trace},
        ) as response:
            answered_at = time.time()
            body_started = True
            body, truncated = _read_body(exchange, response, watchdog)
            headers = {name.lower(): value for name, value in response.headers.items()} | unparseable
            received = wire.Answer(
                response.status_code, response.http_version, headers, body, truncated, False, sent_at, answered_at
            )
            return _answer(exchange, current, received, token_sent)
    except HttpFailure:
        raise
    except (httpx.HTTPError, httpx.InvalidURL, ssl.SSLError, OSError, ValueError) as exc:
        # ValueError/InvalidURL: a proxy or URL httpx cannot use.
        raise _failure_of(exchange, exc, watchdog, body_started) from None


def _wire_hop(exchange: _Exchange, current: str, token_sent: bool, route: ProxyChoice) -> HttpResponse:
    """One request over a connection of dtdoctor's own (taken over, or opened here), read with ``http.client``.

    Socket timeouts apply per read: the watchdog ends a trickle of
    handshake, header or body bytes at the exchange's deadline.
    """
    head = wire.request_head(exchange.method, current, exchange.headers(token_sent), exchange.content)
    watchdog = Watchdog(exchange.deadline - time.monotonic())
    try:
        with watchdog:
            received, sock = _send(exchange, current, route, head, watchdog)
    except (wire.WireError, wire.TooSlow, ConnectError, TunnelError, OSError, ValueError) as exc:
        raise _wire_failure(exchange, exc, watchdog) from None
    if watchdog.fired and received.ended_by_close:
        # A body without Content-Length ends at EOF, so the cut connection looked like its end. One whose
        # length (or last chunk) was read was complete: the deadline passed after its last byte.
        sock.close()
        total = exchange.deadline - exchange.started
        raise exchange.failure(STALLED, f"the answer started, then did not complete within {total:.1f} s")
    if received.reusable and not watchdog.fired:  # a connection the watchdog shut down is no use to anyone
        exchange.kept = HeldConnection(sock, origin(current), route.url, _trust_of(exchange, current))
    else:
        sock.close()
    return _answer(exchange, current, received, token_sent)


def _trust_of(exchange: _Exchange, url: str) -> ssl.SSLContext | None:
    return exchange.tls_context() if origin(url)[0] == "https" else None


def _send(
    exchange: _Exchange, current: str, route: ProxyChoice, head: bytes, watchdog: Watchdog
) -> tuple[wire.Answer, socket.socket]:
    """The answer and the connection it came on; a held connection the server closed meanwhile is replaced once."""
    sock, reused = _connection(exchange, current, route, watchdog)
    try:
        return _exchange_on(sock, exchange, head, watchdog), sock
    except wire.WireError as exc:
        sock.close()
        if not (reused and _closed_unanswered(exc)):
            raise
    except BaseException:
        sock.close()
        raise
    # Servers close idle connections: the request was never answered, so it goes once more, on a new connection.
    sock = _open(exchange, current, route, watchdog)
    try:
        return _exchange_on(sock, exchange, head, watchdog), sock
    except BaseException:
        sock.close()
        raise


def _exchange_on(sock: socket.socket, exchange: _Exchange, head: bytes, watchdog: Watchdog) -> wire.Answer:
    return wire.exchange(
        sock, exchange.method, head, exchange.content, exchange.deadline, MAX_BODY, lambda: watchdog.fired
    )


def _closed_unanswered(exc: wire.WireError) -> bool:
    """The server closed (or reset) the connection before any byte of an answer: the request was not served."""
    unanswered = exc.stage in (wire.SEND, wire.HEADERS)
    return unanswered and isinstance(exc.cause, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError))


def _connection(
    exchange: _Exchange, current: str, route: ProxyChoice, watchdog: Watchdog
) -> tuple[socket.socket, bool]:
    """A held connection that fits this request (the last hop's, else the one offered), or a new one."""
    kept, exchange.kept = exchange.kept, None
    wanted = (origin(current), route.url, _trust_of(exchange, current))
    for held in (kept, exchange.offered):
        sock = held.take(*wanted) if held is not None else None
        if sock is not None:
            _drop(kept)
            sock.settimeout(exchange.socket_timeout())
            watchdog.watch(sock)
            return sock, True
    _drop(kept)
    return _open(exchange, current, route, watchdog), False


def _open(exchange: _Exchange, current: str, route: ProxyChoice, watchdog: Watchdog) -> socket.socket:
    """A new connection, direct or through the proxy's tunnel, with TLS verified as everywhere else."""
    scheme, host, port = origin(current)
    # A proxy's tunnel opens within what is left of the exchange's deadline: the watchdog sees its socket
    # only once open.
    raw = open_stream(host, port, route, exchange.socket_timeout())
    watchdog.watch(raw)
    raw.settimeout(exchange.socket_timeout())
    if scheme != "https":
        return raw
    try:
        sock = exchange.tls_context().wrap_socket(raw, server_hostname=host)
    except BaseException as exc:
        raw.close()
        raise wire.WireError(wire.CONNECT, exc) from None
    watchdog.watch(sock)
    return sock


def _wire_failure(exchange: _Exchange, exc: Exception, watchdog: Watchdog) -> HttpFailure:
    import ssl

    stage = exc.stage if isinstance(exc, wire.WireError) else wire.CONNECT
    total = exchange.deadline - exchange.started
    if watchdog.fired:
        return _failure_of(exchange, exc, watchdog, stage == wire.BODY)
    if isinstance(exc, wire.TooSlow):
        return exchange.failure(STALLED, f"the answer trickled: not complete within {total:.1f} s")
    cause = exc.cause if isinstance(exc, wire.WireError) else exc
    kind, message = _classify_wire(cause, stage, exchange.limit)
    return exchange.failure(kind, message, isinstance(_tls_cause(cause), ssl.SSLCertVerificationError))


def _classify_wire(cause: BaseException, stage: str, timeout: float) -> tuple[str, str]:
    """The kind of a failed exchange on dtdoctor's own connection, and its words."""
    tls = _tls_cause(cause)
    if tls is not None:
        return TLS, _describe_tls(tls)
    text = str(cause)
    if isinstance(cause, TunnelError):
        return PROXY, f"the proxy failed the request: {text}"
    if isinstance(cause, socket.timeout) or (isinstance(cause, ConnectError) and "timed out" in text):
        kind, words = _WIRE_TIMEOUTS[stage]
        return kind, words.format(timeout=timeout)
    if isinstance(cause, ConnectError):
        return (REFUSED, "connection refused") if "refused" in text.lower() else (CONNECT, f"cannot connect: {text}")
    return _broken_exchange(cause, stage)


# A timeout, by the stage it cut: no connection yet, no answer yet, or an answer that stopped.
_WIRE_TIMEOUTS = {
    wire.CONNECT: (TIMEOUT, "no connection within {timeout:g} s"),
    wire.SEND: (TIMEOUT, "no answer within {timeout:g} s"),
    wire.HEADERS: (TIMEOUT, "no answer within {timeout:g} s"),
    wire.BODY: (STALLED, "the answer started, then stalled: no further data within {timeout:g} s"),
}


def _broken_exchange(cause: BaseException, stage: str) -> tuple[str, str]:
    """A connection that broke, or a peer that broke HTTP."""
    import zlib
    from http.client import HTTPException, IncompleteRead

    if isinstance(cause, zlib.error):
        return PROTOCOL, f"the server's answer does not decode as its Content-Encoding says: {cause}"
    if isinstance(cause, IncompleteRead) or (stage == wire.BODY and isinstance(cause, (HTTPException, OSError))):
        return PROTOCOL, "the server closed the connection before the answer was complete"
    if isinstance(cause, HTTPException):
        return PROTOCOL, f"the server broke the HTTP protocol: {cause}"
    if isinstance(cause, ValueError):
        return INVALID, f"cannot request this URL: {cause}"
    return CONNECT, f"{type(cause).__name__}: {cause}"


def _read_body(exchange: _Exchange, response: Any, watchdog: Watchdog) -> tuple[bytes, bool]:
    """The body, cut at ``MAX_BODY`` (then ``truncated``); a body that misses the deadline is a failure."""
    total = exchange.deadline - exchange.started
    chunks: list[bytes] = []
    size, truncated = 0, False
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            truncated = True
            break
        if time.monotonic() > exchange.deadline:
            raise exchange.failure(STALLED, f"the answer trickled: not complete within {total:.1f} s")
    watchdog.disarm()  # complete: nothing may be shut down from now on
    if watchdog.fired:
        # A body without Content-Length ends at EOF, so the cut connection looked like its end.
        raise exchange.failure(STALLED, f"the answer started, then did not complete within {total:.1f} s")
    return b"".join(chunks)[:MAX_BODY], truncated


def _answer(exchange: _Exchange, current: str, received: wire.Answer, token_sent: bool) -> HttpResponse:
    # A server that echoes the token back must not put it into any
    # result: scrub it here, so nothing downstream can carry it.
    token = exchange.ctx.settings.api_token
    body = received.body
    echoed = token is not None and token.secret.encode() in body
    if echoed and token is not None:
        body = body.replace(token.secret.encode(), b"<redacted>")
    return HttpResponse(
        url=current,
        status=received.status,
        http_version=received.http_version,
        headers=received.headers,
        body=body,
        truncated=received.truncated,
        elapsed_ms=exchange.elapsed(),
        hops=tuple(exchange.hops),
        token_sent=token_sent,
        echoed_token=echoed,
        sent_at=received.sent_at,
        answered_at=received.answered_at,
    )


def _failure_of(exchange: _Exchange, exc: Exception, watchdog: Watchdog, body_started: bool) -> HttpFailure:
    if watchdog.fired:
        # The watchdog cut the connection: whatever the read then raised, the cause is the deadline.
        total = exchange.deadline - exchange.started
        if body_started:
            return exchange.failure(STALLED, f"the answer started, then did not complete within {total:.1f} s")
        return exchange.failure(TIMEOUT, f"no complete answer within {total:.1f} s (the server stalled or trickled)")
    kind, message = _classify(exc, body_started, exchange.limit)
    return exchange.failure(kind, message)


def _set_aside_unparseable_location(store: dict[str, str], response: Any) -> None:
    """Take a ``Location`` httpx cannot parse out of the answer, into ``store``.

    httpx builds the redirect request even when it does not follow it, and a
    ``Location`` it cannot parse (``https://[::1/``) would fail the whole
    answer; set aside, it is reported as the redirect it is.
    """
    import httpx

    location = response.headers.get("location")
    if location is None:
        return
    try:
        # The steps of httpx's own redirect URL: parse, borrow a missing host, resolve a relative URL.
        url = httpx.URL(location)
        if url.scheme and not url.host:
            url = url.copy_with(host=response.request.url.host)
        if url.is_relative_url:
            url = response.request.url.join(url)
        httpx.Request(response.request.method, url)
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):  # an IDNA error is a ValueError
        store["location"] = location
        del response.headers["location"]


def _redirect_refusal(current: str, location: str, method: str, hops_so_far: int) -> tuple[str | None, str]:
    """A redirect's absolute target (None when it cannot be parsed) and why it is not followed ('' to follow)."""
    try:
        target = urljoin(current, location)
        target_origin = origin(target)
    except ValueError as exc:
        # The server chose this Location (a port beyond 65535, a broken IPv6
        # literal): it is the answer to report, not an error of dtdoctor's.
        return None, f"the target cannot be parsed: {exc}"
    if target_origin != origin(current):
        return target, "points to another host, port or scheme"
    if method.upper() not in ("GET", "HEAD"):
        return target, f"a {method.upper()} is not repeated on a redirect"
    if hops_so_far >= MAX_REDIRECTS:
        return target, f"more than {MAX_REDIRECTS} redirects"
    return target, ""


def dynatrace_error(response: HttpResponse) -> dict[str, Any] | None:
    """Dynatrace's error envelope ``{"error": {"code": <int>, "message": ...}}``, if that is the answer.

    docs: "Dynatrace API - Response codes" / every endpoint's ``ErrorEnvelope``.
    """
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None
    error: dict[str, Any] = data["error"]
    if not isinstance(error.get("code"), int):
        return None
    return error


def error_message(error: Mapping[str, Any] | None) -> str:
    """The error's message plus its constraint violations, on one line."""
    if not error:
        return ""
    message = str(error.get("message") or "").strip()
    violations = error.get("constraintViolations")
    if isinstance(violations, list):
        parts = []
        for item in violations[:5]:
            if isinstance(item, dict):
                where = item.get("path") or item.get("parameterLocation") or ""
                parts.append(f"{where}: {item.get('message', '')}".strip(": "))
        if parts:
            message = f"{message} ({'; '.join(parts)})" if message else "; ".join(parts)
    return message[:300]


def echoes_token(settings: Settings, response: HttpResponse) -> bool:
    """The answer contains the token's secret: whatever answered, it is not Dynatrace."""
    token = settings.api_token
    return response.echoed_token or (token is not None and token.secret.encode() in response.body)


def looks_like_html(response: HttpResponse) -> bool:
    head = response.body[:512].lstrip().lower()
    return response.content_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html", b"<head", b"<body")
    )


def response_evidence(settings: Settings, response: HttpResponse) -> dict[str, object]:
    """What a result shows of an answer: status, version, timing, a safe excerpt of the body."""
    details: dict[str, object] = {
        "status": response.status,
        "http_version": response.http_version,
        "latency_ms": response.elapsed_ms,
        "content_type": response.content_type or None,
        "body_bytes": len(response.body),
    }
    if response.truncated:
        details["body_truncated_at"] = MAX_BODY
    if response.hops:
        details["redirects"] = [hop.to_json() for hop in response.hops]
    if echoes_token(settings, response):
        # Never show any of it: the redactor would scrub the secret, but the
        # body is evidence of nothing except that the token came back.
        details["echoes_token"] = True
    else:
        details["body_start"] = response.snippet()
    return details


def failure_evidence(failure: HttpFailure) -> dict[str, object]:
    details: dict[str, object] = {"failure": failure.kind, "error": failure.message, "elapsed_ms": failure.elapsed_ms}
    if failure.hops:
        details["redirects"] = [hop.to_json() for hop in failure.hops]
    return details
