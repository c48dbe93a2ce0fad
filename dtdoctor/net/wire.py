"""One HTTP/1.1 request over a connection dtdoctor opened itself, its answer read with ``http.client``.

``net/http.py`` decides what is sent and what an answer means; this module
only moves the bytes: it writes the request, reads the status line, the
headers and up to ``max_body`` bytes of the body (chunked, by length or up to
the end of the connection; decoded where the server compressed it anyway,
within the same cap), and says whether the connection can carry the
next request. A failure says at which stage it happened, so the caller can
tell a connection that never answered from an answer that stalled.
"""

from __future__ import annotations

import contextlib
import socket
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable
from urllib.parse import SplitResult, quote, urlsplit

from dtdoctor.config import format_address

if TYPE_CHECKING:
    import http.client

# Stages of one exchange, in order.
CONNECT = "connect"  # TCP, the tunnel, the TLS handshake
SEND = "send"  # writing the request
HEADERS = "headers"  # waiting for the status line and headers
BODY = "body"  # reading the body

# Characters left as they are in a request target: RFC 3986's reserved and unreserved ones, and escapes.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """What came back: ``reusable`` when the server keeps the connection open for another request.

    ``sent_at`` and ``answered_at``: this host's wall clock (``time.time()``) when the request was written and
    when the answer's headers were in, which bracket the moment the server dated its answer.

    ``ended_by_close``: neither a length nor chunks said where the body ends, so its end was the
    connection's end (which a watchdog's shutdown would look like too).
    """

    status: int
    http_version: str
    headers: dict[str, str]
    body: bytes
    truncated: bool
    reusable: bool
    sent_at: float = 0.0
    answered_at: float = 0.0
    ended_by_close: bool = False


class WireError(Exception):
    """The exchange failed at ``stage``; ``cause`` is the socket, TLS or HTTP error."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.stage = stage
        self.cause = cause


class TooSlow(Exception):
    """The body did not complete by the exchange's deadline."""


def request_head(method: str, url: str, headers: dict[str, str], content: bytes | None) -> bytes:
    """The request line and headers of ``method url``, with ``Host`` and ``Content-Length``."""
    parts = urlsplit(url)
    lines = [f"{method.upper()} {_target(parts)} HTTP/1.1", f"Host: {_authority(parts)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if content is not None or method.upper() in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(content or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _authority(parts: SplitResult) -> str:
    """``Host``: the host, with the port unless it is the scheme's own."""
    host = parts.hostname or ""
    default = 443 if parts.scheme.lower() == "https" else 80
    port = parts.port or default
    if port != default:
        return format_address(host, port)
    return f"[{host}]" if ":" in host else host


def _target(parts: SplitResult) -> str:
    """The path and query, escaped where a server's Location left characters a request line cannot carry."""
    query = f"?{quote(parts.query, safe=_SAFE_QUERY)}" if parts.query else ""
    return quote(parts.path or "/", safe=_SAFE_PATH) + query


def exchange(sock: socket.socket, method: str, head: bytes, content: bytes | None, deadline: float,
             max_body: int, cut: Callable[[], bool] = lambda: False) -> Answer:
    """Send one request and read its answer; raises ``WireError`` (or ``TooSlow`` past ``deadline``).

    ``cut`` says whether a watchdog shut the connection down: ``http.client``
    takes the end of the connection for the end of the headers, so headers
    cut short would pass for complete ones.
    """
    import http.client  # with the email parser it needs: only runs that make a request pay for it

    sent_at = time.time()
    try:
        sock.sendall(head + (content or b""))
    except OSError as exc:
        raise WireError(SEND, exc) from None
    _acknowledge_at_once(sock)
    response = http.client.HTTPResponse(sock, method=method.upper())
    try:
        response.begin()
    except (OSError, http.client.HTTPException) as exc:
        response.close()
        raise WireError(HEADERS, exc) from None
    answered_at = time.time()
    ended_by_close = response.length is None and not response.chunked  # read before the body counts it down
    if cut():
        response.close()
        raise WireError(HEADERS, socket.timeout("the headers did not complete in time"))
    try:
        body, truncated = _body(response, deadline, max_body)
    except (OSError, http.client.HTTPException, zlib.error) as exc:
        raise WireError(BODY, exc) from None
    finally:
        response.close()
    headers = {name.lower(): header_text(value) for name, value in response.getheaders()}
    version = {9: "HTTP/0.9", 10: "HTTP/1.0"}.get(response.version, "HTTP/1.1")
    reusable = not truncated and not response.will_close
    return Answer(response.status, version, headers, body, truncated, reusable, sent_at, answered_at, ended_by_close)


def header_text(value: str) -> str:
    """A header value as text: UTF-8 where its bytes are valid UTF-8, else as sent (latin-1).

    ``http.client`` decodes every header as latin-1, so a ``Location`` whose
    path a server wrote in UTF-8 (``/e/b\xc3\xa9c``) would be escaped from
    the wrong characters (``%C3%83%C2%A9``). httpx decodes headers the same
    way as here; curl sends such a path's bytes escaped one by one, which for
    UTF-8 is the same request.
    """
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _body(response: http.client.HTTPResponse, deadline: float, max_body: int) -> tuple[bytes, bool]:
    """Up to ``max_body`` bytes, and whether there was more; chunk by chunk, each before ``deadline``.

    A body the server compressed although the request asked for ``identity``
    (gzip, deflate) is decoded as it comes, never to more than ``max_body``
    bytes: a small bomb stays a capped, truncated body.
    """
    import http.client

    decode = _decoder(response.getheader("Content-Encoding", ""))
    chunks: list[bytes] = []
    size = read = 0
    while True:
        raw = response.read1(_CHUNK)
        if not raw:
            if response.length:  # the connection ended before the length the headers announced
                raise http.client.IncompleteRead(b"".join(chunks), response.length)
            return b"".join(chunks), False
        read += len(raw)
        chunk = decode(raw, max_body - size + 1)
        chunks.append(chunk)
        size += len(chunk)
        if size > max_body or read > max_body:
            return b"".join(chunks)[:max_body], True
        if time.monotonic() > deadline:
            raise TooSlow()


def _decoder(encoding: str) -> Callable[[bytes, int], bytes]:
    """What turns the body's bytes into the content, at most ``limit`` bytes a call (RFC 9110 section 8.4.1)."""
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    if name == "deflate":
        return _Deflate().decompress
    return lambda raw, limit: raw


class _Deflate:
    """RFC 9110's deflate is zlib-wrapped (RFC 1950); some servers send the bare stream (RFC 1951): take either."""

    def __init__(self) -> None:
        self._inner: zlib._Decompress | None = None

    def decompress(self, raw: bytes, limit: int) -> bytes:
        if self._inner is None:
            wrapped = len(raw) >= 2 and (raw[0] & 0x0F) == 8 and int.from_bytes(raw[:2], "big") % 31 == 0
            self._inner = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        return self._inner.decompress(raw, limit)


def _acknowledge_at_once(sock: socket.socket) -> None:
    """Acknowledge the answer's first segment at once instead of after the delayed-ACK timer (Linux).

    A server that writes the headers and the body separately with Nagle's
    algorithm on (Python's http.server, many small servers) holds the body
    until the headers are acknowledged; on a connection already past its
    first exchanges a delayed ACK makes that a 40 ms pause per request.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
