import socket
import time

from tests.support.listeners import blackhole_port, closed_port, open_port


def test_helpers_behave_as_named():
    with open_port() as port:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    try:
        socket.create_connection(("127.0.0.1", closed_port()), timeout=1)
        raise AssertionError("closed port accepted")
    except ConnectionRefusedError:
        pass
    with blackhole_port() as port:
        started = time.monotonic()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5)
            raise AssertionError("black hole accepted")
        except socket.timeout:
            assert time.monotonic() - started >= 0.45
