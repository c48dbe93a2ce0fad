"""One direction of a TCP relay, as the test proxies and the lab's slow link run it."""

from __future__ import annotations

import contextlib
import socket
import time


def pipe(source: socket.socket, sink: socket.socket, delay: float = 0.0) -> None:
    """Copy ``source`` to ``sink`` until ``source`` ends, each chunk held back ``delay`` seconds; then pass the
    end on (``SHUT_WR``), as a relay passes on the end of a stream, and leave closing to the caller."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if delay:
                time.sleep(delay)
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
