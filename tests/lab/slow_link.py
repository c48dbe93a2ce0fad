"""A slow link in front of a real server: a TCP relay that holds back every chunk the client sends.

Run as ``python -m tests.lab.slow_link LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_S`` (in
the lab's server namespace, in front of squid's ``https_port``). Each chunk from the client reaches
the server ``DELAY_S`` later; the server's answers go back at once. So every stage of a proxy
tunnel that waits on the client's bytes (the TLS handshake with the proxy, the CONNECT) takes at
least ``DELAY_S``: a proxy slow at every stage, while squid itself stays as it is.
"""

from __future__ import annotations

import socket
import sys
import threading

from tests.support.relay import pipe


def _serve(client: socket.socket, target: tuple[str, int], delay: float) -> None:
    try:
        upstream = socket.create_connection(target, timeout=5)
    except OSError:
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream, delay)
    back.join(5)
    upstream.close()
    client.close()


def main(argv: list[str]) -> None:
    listen_host, listen_port, target_host, target_port, delay = argv
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((listen_host, int(listen_port)))
    server.listen(16)
    print("listening", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=_serve, args=(client, (target_host, int(target_port)), float(delay)),
                         daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1:])
