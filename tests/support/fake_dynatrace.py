"""A fake Dynatrace API: a real HTTP(S) server on 127.0.0.1 that answers as the docs say.

Shapes, with their sources:
- ``GET /e/<env>/api/v1/time``: the cluster time in UTC milliseconds as
  text/plain ("Cluster information API",
  https://docs.dynatrace.com/managed/dynatrace-api/environment-api/cluster-information).
- ``POST /e/<env>/api/v2/apiTokens/lookup`` with ``{"token": ...}``,
  authenticated with any token: 200 ``ApiToken`` (``id``, ``name``,
  ``enabled``, ``owner``, ``creationDate``, ``expirationDate``,
  ``lastUsedDate``, ``scopes``) ("Access tokens API - POST token lookup",
  https://docs.dynatrace.com/docs/dynatrace-api/environment-api/tokens-v2/api-tokens/post-token-lookup).
- ``POST /e/<env>/api/v2/events/ingest``: needs ``events.ingest``; 201
  ``{"reportCount": 1, "eventIngestResults": [{"correlationId": ..., "status": "OK"}]}``;
  ``eventType`` and ``title`` required ("Events API v2 - POST an event",
  https://docs.dynatrace.com/docs/shortlink/api-events-v2-post-event).
- Errors: ``{"error": {"code": <int>, "message": ..., "constraintViolations": [...]}}``
  (the ``ErrorEnvelope`` of every endpoint above); 401 for a token that does
  not authenticate (unknown, and, *unconfirmed*, disabled or expired), 403
  for a missing scope (message from Dynatrace/dynatrace-api issue 10).
- Only ``Authorization: Api-Token`` authenticates (docs "Tokens and
  authentication"); whether a platform token does is *unconfirmed* and set
  per fake (``platform_tokens_accepted``).
- ActiveGate ``GET /rest/health``: ``RUNNING`` when healthy (the readiness
  probe dynatrace-operator uses for ActiveGates).

Every request is recorded, so tests can assert what was (not) sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

EVENT_TYPES = {
    "AVAILABILITY_EVENT", "CUSTOM_ALERT", "CUSTOM_ANNOTATION", "CUSTOM_CONFIGURATION", "CUSTOM_DEPLOYMENT",
    "CUSTOM_INFO", "ERROR_EVENT", "MARKED_FOR_TERMINATION", "PERFORMANCE_EVENT", "RESOURCE_CONTENTION_EVENT",
    "WARNING",
}


def make_token(public: str, fill: str = "S", prefix: str = "dt0c01") -> str:
    """A token of the documented shape: <prefix>.<24 public>.<64 secret> (docs "Tokens and authentication")."""
    public = (public.upper() + "0" * 24)[:24]
    secret = (public + fill * 64)[:64]
    return f"{prefix}.{public}.{secret}"


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def days_from_now(days: float) -> str:
    return iso(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=days))


def token_record(token: str, name: str = "ingest", scopes: tuple[str, ...] = ("events.ingest",),
                 enabled: bool = True, expires: str | None = None) -> dict[str, Any]:
    """The lookup's ``ApiToken`` answer for ``token``."""
    record: dict[str, Any] = {
        # docs: the token id is prefix and public part. Unconfirmed: the id of an old-format token, which has
        # no public part; a made-up one here (never the token itself).
        "id": ".".join(token.split(".")[:2]) if "." in token else "OLDFORMAT-ID-" + str(len(token)),
        "name": name,
        "enabled": enabled,
        "owner": "admin@example.com",
        "personalAccessToken": False,
        "creationDate": "2026-01-10T08:00:00.000Z",
        "lastUsedDate": "2026-11-20T12:00:00.000Z",
        "lastUsedIpAddress": "10.0.0.7",
        "modifiedDate": "2026-01-10T08:00:00.000Z",
        "scopes": list(scopes),
    }
    if expires is not None:
        record["expirationDate"] = expires
    return record


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    # The client's (address, port): requests with the same peer came over one connection.
    peer: tuple[str, int] = ("", 0)

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    # Send only this many bytes of the body, then hold the connection open (a stalled server).
    stall_after: int | None = None
    # Close the connection after this answer without announcing it (no ``Connection: close``), as a
    # server whose idle timeout for kept connections passed does (RFC 9112, section 9.3.1 lets it).
    hang_up: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def error(code: int, message: str, **extra: Any) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, **extra}})


App = Callable[[Recorded], Reply]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                          (str(self.client_address[0]), int(self.client_address[1])))
        self.server.requests.append(record)
        reply = self.server.app(record)
        payload = reply.payload()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.stall_after is not None:
            self.wfile.write(payload[: reply.stall_after])
            self.wfile.flush()
            self.server.stopping.wait(10)
            self.close_connection = True
            return
        self.wfile.write(payload)
        if reply.hang_up:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_HEAD = _serve


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self.accepted = 0  # connections accepted (over TLS: handshakes completed)

    def get_request(self) -> Any:
        request = super().get_request()
        self.accepted += 1
        return request

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients that hang up are fine
        pass


@dataclass
class Running:
    server: _Server
    scheme: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, env: str = "abc") -> str:
        return f"{self.origin}/e/{env}"

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]


@contextlib.contextmanager
def serve(app: App, tls: ssl.SSLContext | None = None) -> Iterator[Running]:
    """Run ``app`` on a fresh loopback port (HTTPS when ``tls`` is a server context)."""
    server = _Server(app)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Running(server, "https" if tls is not None else "http")
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(2)


# The error messages a source shows verbatim; the others are marked unconfirmed where they are used.
MISSING_SCOPE = "Token is missing required scope. Use one of: events.ingest (Ingest events)"  # dynatrace-api issue 10
# Unconfirmed: no public source quotes the 401 message; dtdoctor must not depend on its wording.
AUTHENTICATION_FAILED = "Token Authentication failed"


class FakeDynatrace:
    """The classic Environment API v2 of one environment, with a table of known tokens.

    Each behaviour names its source; *unconfirmed* marks what no public
    source shows, so a test that relies on it says so (docs/api.md lists them).
    """

    def __init__(self, env: str = "abc", lookup_available: bool = True,
                 platform_tokens_accepted: bool = False) -> None:
        self.env = env
        self.tokens: dict[str, dict[str, Any]] = {}
        self.lookup_available = lookup_available
        # Unconfirmed either way: whether the classic API accepts a platform
        # token (dt0s16) sent as ``Api-Token``. dynatrace-operator sends every
        # token that way (pkg/clients/dynatrace/core/client.go) and skips the
        # scope lookup for platform tokens (cmd/troubleshoot/dynakube.go);
        # the events docs name classic access tokens only. Tests run both ways.
        self.platform_tokens_accepted = platform_tokens_accepted
        self.events: list[dict[str, Any]] = []
        self.health = "RUNNING"

    def add(self, token: str, **record: Any) -> str:
        self.tokens[token] = token_record(token, **record)
        return token

    def _caller(self, request: Recorded) -> dict[str, Any] | None:
        """The token record that authenticates ``request``, or None (401)."""
        header = request.authorization or ""
        scheme, _, value = header.partition(" ")
        # docs "Tokens and authentication": classic access tokens go in
        # ``Authorization: Api-Token <token>``. Bearer is documented for
        # platform services only (docs "Platform tokens"), so it is refused
        # here (unconfirmed: the status the classic API gives another scheme).
        if scheme != "Api-Token":
            return None
        record = self.tokens.get(value)
        if record is None:
            return None
        if value.startswith("dt0s") and not self.platform_tokens_accepted:
            return None  # unconfirmed, see __init__
        # Unconfirmed: a disabled or expired token authenticating its own
        # request most likely gets 401 like an unknown one; no source shows
        # the body. It never authenticates here, so its lookup fields
        # (enabled, expirationDate) are only seen when another token asks.
        if not record.get("enabled", True) or _expired(record):
            return None
        return record

    def __call__(self, request: Recorded) -> Reply:
        prefix = f"/e/{self.env}"
        path = request.path.split("?")[0]
        if path == "/rest/health":
            # dynatrace-operator's ActiveGate readiness probe: GET /rest/health answers RUNNING.
            return Reply(200, self.health, content_type="text/plain")
        if not path.startswith(prefix + "/api/"):
            return error(404, "HTTP 404 Not Found")  # unconfirmed: the body of a 404 outside the API
        route = path[len(prefix):]
        caller = self._caller(request)
        if caller is None:
            # docs "Tokens and authentication"/ErrorEnvelope: 401 in the error format; message unconfirmed.
            return error(401, AUTHENTICATION_FAILED)
        if route == "/api/v1/time" and request.method == "GET":
            # docs "Cluster information API": the time as text/plain epoch milliseconds.
            now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
            return Reply(200, str(now), content_type="text/plain")
        if route == "/api/v2/apiTokens/lookup" and request.method == "POST":
            return self._lookup(request)
        if route == "/api/v2/events/ingest" and request.method == "POST":
            return self._ingest(request, caller)
        return error(404, "HTTP 404 Not Found")

    def _lookup(self, request: Recorded) -> Reply:
        # docs "Access tokens API - POST token lookup": any scope authenticates; 200 ApiToken.
        if not self.lookup_available:
            return error(404, "HTTP 404 Not Found")  # an older cluster or a gate without it: unconfirmed body
        try:
            wanted = request.json()["token"]
        except (ValueError, KeyError, TypeError):
            # docs: 400 "Failed. The input is invalid." with constraintViolations (ErrorEnvelope).
            return error(400, "Constraints violated.", constraintViolations=[{"path": "token",
                                                                               "message": "must not be null"}])
        record = self.tokens.get(wanted)
        # The lookup of another, disabled or expired token answers its fields (docs: ApiToken.enabled,
        # expirationDate). Unconfirmed: the status and message for a token the environment does not know.
        return Reply(200, record) if record else error(404, "Token not found")

    def _ingest(self, request: Recorded, caller: dict[str, Any]) -> Reply:
        # docs "Events API v2 - POST an event": scope events.ingest; 201 with eventIngestResults.
        if "events.ingest" not in caller["scopes"]:
            return error(403, MISSING_SCOPE)  # Dynatrace/dynatrace-api issue 10 quotes this message
        try:
            event = request.json()
        except ValueError:
            return error(400, "Could not map JSON")  # unconfirmed message
        # docs: eventType (one of EVENT_TYPES) and title are required; 400 with constraintViolations.
        # Unconfirmed: that the token is checked before the body (dtdoctor's inferred verdict relies on it).
        violations = []
        if not isinstance(event, dict) or event.get("eventType") not in EVENT_TYPES:
            violations.append({"path": "eventType", "message": "must be a valid event type"})
        if not isinstance(event, dict) or not event.get("title"):
            violations.append({"path": "title", "message": "must not be empty"})
        if violations:
            return error(400, "Constraints violated.", constraintViolations=violations)
        self.events.append(event)
        correlation = f"c0ffee{len(self.events):04d}"
        return Reply(201, {"reportCount": 1,
                           "eventIngestResults": [{"correlationId": correlation, "status": "OK"}]})


def _expired(record: dict[str, Any]) -> bool:
    expires = record.get("expirationDate")
    if not expires:
        return False  # docs: an absent expirationDate means the token never expires
    moment = dt.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=dt.timezone.utc)
    return moment <= dt.datetime.now(dt.timezone.utc)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
