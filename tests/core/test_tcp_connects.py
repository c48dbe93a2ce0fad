"""connect_pairs against real loopback sockets: open, refused and black-holed ports raced at once."""

from __future__ import annotations

import time
from pathlib import Path

from dtdoctor.net import icmp
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


def test_the_arp_table_names_only_lookups_nobody_answered(tmp_path: Path) -> None:
    # Linux's /proc/net/arp: flags 0x2 (ATF_COM) a completed lookup, 0x0 one that never got a reply.
    (tmp_path / "proc/net").mkdir(parents=True)
    (tmp_path / "proc/net/arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n"
        "192.0.2.77       0x1         0x0         00:00:00:00:00:00     *        eth0\n"
    )
    assert icmp.arp_unanswered(tmp_path) == frozenset({"192.0.2.77"})
    assert icmp.arp_unanswered(tmp_path / "elsewhere") == frozenset()


def test_only_an_ipv4_address_off_loopback_can_wait_on_arp() -> None:
    assert icmp.may_need_arp("192.0.2.77")
    assert not icmp.may_need_arp("127.0.0.1") and not icmp.may_need_arp("127.3.2.1")
    assert not icmp.may_need_arp("2001:db8::1") and not icmp.may_need_arp("::1")
