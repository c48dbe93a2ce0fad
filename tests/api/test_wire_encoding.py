"""A server that compresses its answer although the request asked for ``identity``.

Such a body (``Content-Encoding: gzip`` or ``deflate``, RFC 9110 section
8.4.1) is decoded as it is read, and never to more than ``max_body`` bytes:
a compression bomb ends as a truncated body of exactly the cap.
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib

import pytest

from dtdoctor.net import http, wire
from tests.support.hostile_servers import scripted_server

CONTENT = b'{"time": 1796025600000}' * 40


def answer(body: bytes, encoding: str) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {encoding}\r\n"
    return (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def fetch(raw: bytes, max_body: int = 1 << 20) -> wire.Answer:
    with scripted_server(raw, hold=False) as port, socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        url = f"http://127.0.0.1:{port}/api/v1/time"
        head = wire.request_head("GET", url, {"Accept-Encoding": "identity"}, None)
        return wire.exchange(sock, "GET", head, None, time.monotonic() + 5, max_body)


def raw_deflate(data: bytes) -> bytes:
    squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return squeeze.compress(data) + squeeze.flush()


@pytest.mark.parametrize(("encoding", "body"), [
    ("gzip", gzip.compress(CONTENT)),
    ("x-gzip", gzip.compress(CONTENT)),
    ("deflate", zlib.compress(CONTENT)),
    ("deflate", raw_deflate(CONTENT)),
], ids=["gzip", "x-gzip", "deflate-zlib", "deflate-raw"])
def test_a_compressed_answer_is_read_as_its_content(encoding: str, body: bytes) -> None:
    got = fetch(answer(body, encoding))
    assert (got.status, got.body, got.truncated) == (200, CONTENT, False)
    assert got.headers["content-encoding"] == encoding


def test_an_identity_answer_is_left_as_it_came() -> None:
    got = fetch(answer(CONTENT, "identity"))
    assert (got.body, got.truncated) == (CONTENT, False)


def test_a_compression_bomb_stays_within_max_body() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)  # 64 MiB of zeros in about 64 KiB
    assert len(bomb) < 256 << 10
    got = fetch(answer(bomb, "gzip"), max_body=256 << 10)
    assert got.truncated and got.body == b"\0" * (256 << 10)


def test_a_body_that_is_not_what_its_encoding_says_is_a_body_failure() -> None:
    with pytest.raises(wire.WireError) as failure:
        fetch(answer(b"not gzip at all", "gzip"))
    assert failure.value.stage == wire.BODY
    kind, words = http._classify_wire(failure.value.cause, failure.value.stage, 1.0)
    assert kind == http.PROTOCOL
    assert words.startswith("the server's answer does not decode as its Content-Encoding says")
