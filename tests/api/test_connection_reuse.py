"""One connection per endpoint: the tls check's handshake carries the api request, and the token lookup follows.

The fake server counts the connections it accepted (over TLS: completed
handshakes) and records each request's peer, so a test sees which request
came over which connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading

from dtdoctor.checks import CHECKS
from dtdoctor.core.runner import Runner, select_checks
from dtdoctor.net.tls_probe import HAS_CHAIN_API
from tests.api.conftest import by_id, one
from tests.support import factories
from tests.support.fake_dynatrace import FakeDynatrace, Recorded, Reply, make_token, serve

TOKEN = make_token("REUSE")
# The tls check's handshakes: the system store's (kept open) and certifi's; on Python 3.9 one more,
# unverified, reads the whole presented chain.
TLS_HANDSHAKES = 2 if HAS_CHAIN_API else 3


def dynatrace() -> FakeDynatrace:
    fake = FakeDynatrace()
    fake.add(TOKEN, scopes=("events.ingest",))
    return fake


def runner(only: str, ca_bundle: str, url: str | None, **options: object) -> Runner:
    options.setdefault("timeout", 2.0)
    ctx = factories.context({"DT_API_TOKEN": TOKEN}, url=url, ca_bundle=ca_bundle, **options)
    return Runner(select_checks(CHECKS, only.split(",")), ctx)


def test_the_api_request_and_the_token_lookup_take_over_the_tls_checks_connection(server_tls, ca_bundle):
    with serve(dynatrace(), server_tls) as server:
        run = runner("tls,api,token", ca_bundle, server.url())
        results = run.run()
        accepted, requests = server.server.accepted, list(server.requests)
    assert [one(results, check).code for check in ("tls", "api", "token")] == ["tls.ok", "api.ok", "token.ok"]
    assert [f"{r.method} {r.path}" for r in requests] == [
        "GET /e/abc/api/v1/time", "POST /e/abc/api/v2/apiTokens/lookup"
    ]
    # No connection beyond the tls check's handshakes, and both requests on one of them.
    assert accepted == TLS_HANDSHAKES
    assert requests[0].peer == requests[1].peer
    assert run.facts[("tls", server.address)].connection.taken


def test_without_the_tls_check_the_token_lookup_still_follows_the_api_request(server_tls, ca_bundle):
    with serve(dynatrace(), server_tls) as server:
        results = runner("api,token", ca_bundle, server.url()).run()
        accepted, requests = server.server.accepted, list(server.requests)
    assert one(results, "token").code == "token.ok"
    assert accepted == 1 and requests[0].peer == requests[1].peer


def test_a_server_that_closes_after_each_answer_gets_a_new_connection_per_request(server_tls, ca_bundle):
    fake = dynatrace()

    def closing(request: Recorded) -> Reply:
        reply = fake(request)
        reply.headers["Connection"] = "close"
        return reply

    with serve(closing, server_tls) as server:
        results = runner("tls,api,token", ca_bundle, server.url()).run()
        requests = list(server.requests)
    assert [one(results, check).code for check in ("tls", "api", "token")] == ["tls.ok", "api.ok", "token.ok"]
    assert requests[0].peer != requests[1].peer


def test_a_kept_connection_the_server_closed_meanwhile_is_replaced_once(server_tls, ca_bundle):
    fake = dynatrace()

    def hanging_up(request: Recorded) -> Reply:
        reply = fake(request)
        reply.hang_up = True
        return reply

    with serve(hanging_up, server_tls) as server:
        results = runner("tls,api,token", ca_bundle, server.url()).run()
        requests = list(server.requests)
    assert [one(results, check).code for check in ("tls", "api", "token")] == ["tls.ok", "api.ok", "token.ok"]
    # The lookup met the closed connection, was not answered there, and went once more on a new one.
    assert [f"{r.method} {r.path}" for r in requests] == [
        "GET /e/abc/api/v1/time", "POST /e/abc/api/v2/apiTokens/lookup"
    ]
    assert requests[0].peer != requests[1].peer


def test_a_connection_no_request_takes_is_closed_when_the_run_ends(server_tls, ca_bundle):
    with serve(dynatrace(), server_tls) as server:
        run = runner("tls", ca_bundle, server.url())
        run.run()
    held = run.facts[("tls", server.address)].connection
    assert held is not None and not held.taken and not held.available


def test_the_activegate_health_and_its_api_request_share_out_one_connection(server_tls, ca_bundle):
    with serve(dynatrace(), server_tls) as server:
        results = runner("tls,api,activegate", ca_bundle, None, activegates=(server.url(),)).run()
        accepted = server.server.accepted
    assert one(results, "api").code == "api.ok"
    assert by_id(results, "activegate")[0].code == "activegate.running"
    # Whichever asked first took the tls check's connection; the other opened its own.
    assert accepted == TLS_HANDSHAKES + 1


class PairedHandshakes:
    """A TLS server that answers no ClientHello until two connections are open, then every one at once.

    A client that makes the certifi handshake only after the system store's
    never gets an answer to the first: the two must run side by side.
    """

    def __init__(self, server_tls: ssl.SSLContext) -> None:
        self.context = server_tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.paired = threading.Event()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.open.append(conn)
            if len(self.open) >= 2:
                self.paired.set()
            threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn: socket.socket) -> None:
        if self.paired.wait(10.0):  # far beyond the client's timeout: one alone is never answered in time
            with contextlib.suppress(OSError):
                self.context.wrap_socket(conn, server_side=True)

    def close(self) -> None:
        self.listener.close()
        for conn in self.open:
            conn.close()


def test_the_certifi_handshake_runs_alongside_the_system_stores(server_tls, ca_bundle):
    server = PairedHandshakes(server_tls)
    try:
        # A handshake alone waits the whole timeout; side by side both end as soon as the second one connects.
        # The timeout leaves room for building both trust stores' contexts first on a busy machine.
        results = runner("tls", ca_bundle, f"https://127.0.0.1:{server.port}/e/abc", timeout=3.0).run()
    finally:
        server.close()
    result = one(results, "tls")
    assert result.code == "tls.ok", result.summary
    assert set(result.details["trust_stores"]) == {"system", "certifi"}
    assert all(verdict == "trusted" for verdict in result.details["trust_stores"].values())


def test_runs_in_one_long_lived_process_leave_no_connection_open(server_tls, ca_bundle):
    """serve reuses the process: every connection a run kept open is closed by the time the run ends."""
    import psutil

    def open_to(port: int) -> list[object]:
        return [c for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr[1] == port]

    with serve(dynatrace(), server_tls) as server:
        for only in ("tls", "tls,api", "tls,api,token", "tls,api,activegate"):
            options = {"activegates": (server.url(),)} if "activegate" in only else {}
            run = runner(only, ca_bundle, server.url(), **options)
            run.run()
            assert open_to(server.port) == [], only  # the runner, and the facts it holds, still exist
