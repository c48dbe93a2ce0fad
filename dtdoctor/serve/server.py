"""The HTTP side of ``dtdoctor serve``: four read-only pages of the latest run, a fixed pool of worker threads."""

from __future__ import annotations

import ipaddress
import queue
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

from dtdoctor.serve.runs import PROMETHEUS_TYPE, Latest, Snapshot

WORKERS = 4  # requests answered at once; more wait in the queue
QUEUE_MAX = 64  # connections waiting beyond that are closed at once
CLIENT_TIMEOUT_S = 10.0  # a client that sends nothing for this long is dropped
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class ServeServer(HTTPServer):
    """An HTTP server whose requests are answered by a fixed pool of daemon threads."""

    latest: Latest
    expose_report: bool

    def __init__(self, address: tuple[str, int], family: int, latest: Latest, expose_report: bool) -> None:
        self.address_family = family
        self.latest = latest
        self.expose_report = expose_report
        self._waiting: queue.Queue[tuple[Any, Any]] = queue.Queue(QUEUE_MAX)
        super().__init__(address, Handler)
        for number in range(WORKERS):
            threading.Thread(target=self._work, name=f"dtdoctor-http-{number}", daemon=True).start()

    def server_bind(self) -> None:
        # HTTPServer's own looks up the fully qualified name of the address: a DNS query that may hang.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    @property
    def report_pages_served(self) -> bool:
        """The full report shows the configuration: only on a loopback address, unless exposed on purpose."""
        return self.expose_report or is_loopback(str(self.server_address[0]))

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            self._waiting.put_nowait((request, client_address))
        except queue.Full:
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            request, client_address = self._waiting.get()
            try:
                self.finish_request(request, client_address)
            except Exception as exc:
                sys.stderr.write(f"dtdoctor serve: request from {client_address[0]} failed: {type(exc).__name__}\n")
            finally:
                self.shutdown_request(request)


class Handler(BaseHTTPRequestHandler):
    server: ServeServer
    timeout = CLIENT_TIMEOUT_S

    def version_string(self) -> str:
        return "dtdoctor"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        path = urlsplit(self.path).path
        snapshot = self.server.latest.get()
        status, content_type, body = self._page(path, snapshot)
        data = body.encode("utf-8", "replace")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def _page(self, path: str, snapshot: Snapshot) -> tuple[int, str, str]:
        if path == "/healthz":
            return (200 if snapshot.healthy else 503), TEXT_TYPE, snapshot.health_text()
        if path == "/metrics":
            if not snapshot.metrics:
                return 503, TEXT_TYPE, snapshot.health_text()
            return 200, PROMETHEUS_TYPE, snapshot.metrics
        if path in ("/", "/report.json"):
            return self._report_page(path, snapshot)
        return 404, TEXT_TYPE, "not found: dtdoctor serve has /metrics, /healthz, /report.json and /\n"

    def _report_page(self, path: str, snapshot: Snapshot) -> tuple[int, str, str]:
        if not self.server.report_pages_served:
            return 403, TEXT_TYPE, ("the full report is served on a loopback address only "
                                    "(start dtdoctor serve with --expose-report to serve it here)\n")
        body = snapshot.html if path == "/" else snapshot.report_json
        if not body:
            return 503, TEXT_TYPE, snapshot.health_text()
        return 200, (HTML_TYPE if path == "/" else JSON_TYPE), body

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: a scrape every few seconds would drown the runs' lines."""


def bind(host: str, port: int, latest: Latest, expose_report: bool) -> ServeServer:
    """Listen on ``host:port`` (a name is resolved; the first address is used); ``OSError`` when it cannot."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, _, _, _, address = infos[0]
    return ServeServer((str(address[0]), int(address[1])), family, latest, expose_report)
