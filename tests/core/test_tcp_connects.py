"""connect_pairs against real loopback sockets: open, refused and black-holed ports raced at once."""

from __future__ import annotations

import time

from dtdoctor.net.tcp import OPEN, REFUSED, TIMEOUT, UNREACHABLE, connect_all, connect_pairs
from tests.support.listeners import blackhole_port, closed_port, open_port


def test_every_pair_is_decided_in_the_order_given_within_one_timeout() -> None:
    refused = closed_port()
    with open_port() as listening, blackhole_port() as dropped:
        started = time.monotonic()
        attempts = connect_pairs([("127.0.0.1", dropped), ("127.0.0.1", refused), ("127.0.0.1", listening)], 1.0)
        took = time.monotonic() - started
    assert [(a.port, a.outcome) for a in attempts] == [(dropped, TIMEOUT), (refused, REFUSED), (listening, OPEN)]
    assert attempts[0].reason == "no answer within 1 s"
    assert attempts[1].reason.startswith("ECONNREFUSED")
    assert attempts[2].reason == "" and attempts[2].icmp is None
    assert took < 1.9  # one timeout for the lot, not one each


def test_connect_all_tries_every_address_on_one_port() -> None:
    with open_port() as listening:
        attempts = connect_all(["127.0.0.1", "::1"], listening, 1.0)
    assert [a.address for a in attempts] == ["127.0.0.1", "::1"]
    assert attempts[0].outcome == OPEN
    assert attempts[1].port == listening
    assert attempts[1].outcome in (REFUSED, UNREACHABLE)  # the listener has IPv4 only; ::1 may not exist here
