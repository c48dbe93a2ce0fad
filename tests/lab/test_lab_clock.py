"""nginx under libfaketime: a server whose clock is set off, and what the clock check makes of it.

libfaketime (Debian's ``libfaketime``) is preloaded into nginx with
``FAKETIME="+2h"`` or ``"+10"`` (README of libfaketime 0.9.10, sections 4a and
4d): its ``Date`` header and its ``/api/v1/time`` body (``$msec`` without the
dot) both come from the faked clock. This host's clock is the machine's.
"""

from __future__ import annotations

import pytest

from tests.lab.services import name

pytestmark = pytest.mark.lab


def managed(label: str) -> str:
    return f"https://{name(label)}/e/abc12345"


def activegate(label: str) -> str:
    """An Environment ActiveGate URL on the lab's port 443 (an ActiveGate's default port is 9999)."""
    return f"https://{name(label)}:443/e/abc12345"


def test_a_server_whose_clock_agrees_passes_by_its_own_time_api(check):
    run = check("--url", managed("good"), "--only", "dns,tcp,tls,clock")
    found = run.result("clock")
    assert (found["code"], found["status"]) == ("clock.ok", "pass"), run.words("clock")
    assert found["details"]["source"] == "api/v1/time"
    assert abs(found["details"]["skew_s"]) < 2


def test_a_skew_under_the_warning_threshold_passes_and_says_how_far(check):
    run = check("--url", managed("skewedsmall"), "--only", "dns,tcp,tls,clock")
    found = run.result("clock")
    assert (found["code"], found["status"]) == ("clock.ok", "pass"), run.words("clock")
    assert found["details"]["source"] == "api/v1/time"
    assert 8 < -found["details"]["skew_s"] < 12  # the server is 10 s ahead
    assert found["summary"].startswith("within 1")
    assert f" s of {name('skewedsmall')} (api/v1/time)" in found["summary"]


@pytest.fixture()
def ntp_root(tmp_path):
    """A filesystem root for dtdoctor's local facts (``--root``): ``synced`` has systemd-timesyncd's flag,
    ``unsynced`` a /proc with no time daemon; the machine's own NTP state never decides a lab verdict."""

    def make(state: str) -> str:
        root = tmp_path / state
        (root / "proc/1").mkdir(parents=True)
        (root / "proc/1/comm").write_text("bash\n")
        if state == "synced":
            (root / "run/systemd/timesync").mkdir(parents=True)
            (root / "run/systemd/timesync/synchronized").touch()
        return str(root)

    return make


def test_a_server_two_hours_ahead_of_an_ntp_synchronised_host_is_blamed(check, ntp_root):
    host = name("skewed")
    run = check("--url", managed("skewed"), "--only", "dns,tcp,tls,clock", "--root", ntp_root("synced"))
    found = run.result("clock")
    assert (found["code"], found["status"]) == ("clock.server_skew", "fail"), run.words("clock")
    assert found["summary"] == (
        f"{host}'s clock is 2.0 h ahead of this host's (api/v1/time); NTP synchronisation is active here "
        f"(systemd-timesyncd), so {host}'s clock is the one that is off"
    )
    assert found["remediation"].startswith(f"Ask whoever runs {host} (or the reverse proxy or load balancer")
    assert "this host's clock needs no change" in found["remediation"]
    assert 7195 < -found["details"]["skew_s"] < 7205 and found["details"]["blamed"] == "server"


def test_one_skewed_server_and_no_sync_here_cannot_tell_whose_clock_is_wrong(check, ntp_root):
    host = name("skewed")
    run = check("--url", managed("skewed"), "--only", "dns,tcp,tls,clock", "--root", ntp_root("unsynced"))
    found = run.result("clock")
    assert (found["code"], found["status"]) == ("clock.skew", "fail"), run.words("clock")
    assert found["summary"] == (
        f"this host's clock is 2.0 h behind {host} (api/v1/time); no NTP service (chronyd, ntpd, "
        "systemd-timesyncd) is running; with no other server's time to compare, dtdoctor cannot tell which of "
        "the two clocks is wrong"
    )
    assert f"If this host's clock is synchronised and right, ask whoever runs {host}" in found["remediation"]


def test_a_server_that_agrees_with_this_host_puts_the_blame_on_the_skewed_one(check, ntp_root):
    skewed, good = name("skewed"), name("good")
    run = check("--url", managed("skewed"), "--activegate", activegate("good"), "--only", "dns,tcp,tls,clock",
                "--root", ntp_root("unsynced"))
    assert run.result("clock", good)["code"] == "clock.ok", run.words("clock", good)
    found = run.result("clock", skewed)
    assert (found["code"], found["status"]) == ("clock.server_skew", "fail"), run.words("clock", skewed)
    assert found["summary"] == (
        f"{skewed}'s clock is 2.0 h ahead of this host's (api/v1/time); {good} agrees with this host to within "
        f"1 s, so {skewed}'s clock is the one that is off"
    )
    assert list(found["details"]["compared_with"]) == [good]


def test_two_servers_off_by_the_same_amount_put_the_blame_on_this_host(check, ntp_root):
    skewed, twin = name("skewed"), name("skewedtoo")
    run = check("--url", managed("skewed"), "--activegate", activegate("skewedtoo"), "--only", "dns,tcp,tls,clock",
                "--root", ntp_root("unsynced"))
    for host, other in ((skewed, twin), (twin, skewed)):
        found = run.result("clock", host)
        assert (found["code"], found["status"]) == ("clock.skew", "fail"), run.words("clock", host)
        assert found["summary"].endswith(
            f"{other} is off by the same amount, so this host's clock is the likelier one to be off"
        )
        assert found["remediation"].startswith("Enable time synchronisation: `timedatectl set-ntp true`")
