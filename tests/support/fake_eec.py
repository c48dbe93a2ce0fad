"""A fake OneAgent local ingest endpoint on 127.0.0.1: answers like the EEC (``Server: EEC``)."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


@contextlib.contextmanager
def http_server(server_header: str = "EEC", status: int = 404) -> Iterator[int]:
    """An HTTP server answering every request with ``status`` and the given ``Server`` header.

    The EEC's answer to a GET is not documented; 404 with ``Server: EEC`` is a
    plausible one (a documented POST to the log ingest path answers 204 with it).
    An empty ``server_header`` sends an empty Server header.
    """
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def version_string(self) -> str:
            return server_header

        def _answer(self) -> None:
            requests.append(f"{self.command} {self.path}")
            body = b'{"error":{"code":404,"message":"Not found"}}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(1)
