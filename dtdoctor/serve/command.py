"""``dtdoctor serve`` without the command line: refuse bad options, listen, run on the interval, stop on a signal."""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any

import click

from dtdoctor.app import CheckOptions, check_selection, run_checks, settings_for
from dtdoctor.redact import Redactor
from dtdoctor.serve.runs import Latest, Scheduler, Snapshot, failed_snapshot, log_line, snapshot_of

# How often the main thread looks at the stop flag, and the server at its shutdown request: well under a second.
POLL_S = 0.2


@dataclass(frozen=True)
class ServeOptions:
    check: CheckOptions
    listen: str = "127.0.0.1:9758"
    interval: float = 300.0
    expose_report: bool = False


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or a bare ``IPv6:PORT`` (as ``$(HOST_IP):9758`` gives); port 0 picks one."""
    host, _, port_text = text.strip().rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    if not _valid_host(host, bracketed) or not port_text.isdigit() or len(port_text) > 5:
        raise click.BadParameter(f"{text!r} is not HOST:PORT (for example 127.0.0.1:9758 or [::1]:9758)",
                                 param_hint="--listen")
    port = int(port_text)
    if port > 65535:
        raise click.BadParameter(f"port {port} is out of range (0-65535)", param_hint="--listen")
    return host, port


def _valid_host(host: str, bracketed: bool) -> bool:
    if bracketed or ":" in host:
        try:
            return ipaddress.ip_address(host.split("%", 1)[0]).version == 6
        except ValueError:
            return False
    return bool(host) and not any(char in host for char in "[]/ ")


def refuse_options(opts: CheckOptions) -> None:
    if opts.send_test_event:
        raise click.UsageError("serve does not send test events (a long-running process must not post one every "
                               "interval): run 'dtdoctor check --send-test-event' once instead")
    if opts.token_file == "-":
        raise click.UsageError("serve reads the token file again before each run: give a file, not - (stdin)")


def one_run(opts: CheckOptions, redactor: Redactor, number: int) -> Snapshot:
    """One run as a snapshot; a configuration that became unusable (a token file gone) is a failed run."""
    from dtdoctor.config import ConfigError

    environ = dict(os.environ)
    try:
        settings = settings_for(opts, environ, redactor)  # the token file and CA bundle are read again
        return snapshot_of(run_checks(opts, settings, environ), number, redactor)
    except ConfigError as exc:
        return failed_snapshot(f"configuration unusable: {exc}", number, redactor)
    except Exception as exc:  # a bug in one run must not end the service: the pages say so
        return failed_snapshot(f"internal error: {type(exc).__name__}: {exc}", number, redactor)


def run_serve(options: ServeOptions, redactor: Redactor) -> int:
    """Check everything that can be checked before listening, then serve until SIGTERM or SIGINT."""
    from dtdoctor.serve.server import bind

    opts = options.check
    check_selection(opts)
    refuse_options(opts)
    host, port = parse_listen(options.listen)
    settings_for(opts, dict(os.environ), redactor)  # an unusable configuration ends it here, exit 3
    latest = Latest()
    try:
        server = bind(host, port, latest, options.expose_report)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {options.listen}: {exc.strerror or exc}") from None
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set()) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        serve_until(server, options, latest, stop, redactor)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def serve_until(server: Any, options: ServeOptions, latest: Latest, stop: threading.Event,
                redactor: Redactor) -> None:
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    pages = "report pages served" if server.report_pages_served else "report pages not served (not loopback)"
    log_line(f"listening on http://{shown}:{bound_port}/ (checks every {options.interval:g}s; {pages})")
    thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), name="dtdoctor-http", daemon=True)
    thread.start()
    Scheduler(lambda number: one_run(options.check, redactor, number), options.interval, latest, stop,
              log_line).start()
    try:
        while not stop.wait(POLL_S):
            pass
    finally:
        server.shutdown()
        server.server_close()
        log_line("stopped")
