"""nginx under libfaketime: a server whose clock is set off, and what the clock check makes of it.

libfaketime (Debian's ``libfaketime``) is preloaded into nginx with
``FAKETIME="+2h"`` or ``"+10"`` (README of libfaketime 0.9.10, sections 4a and
4d): its ``Date`` header and its ``/api/v1/time`` body (``$msec`` without the
dot) both come from the faked clock. This host's clock is the machine's.

Through squid-openssl bumping the tunnel (ssl-bump), the +2 h nginx's answer is
relayed with its own ``Date`` (squid adds one only when the answer has none:
``clientReplyContext::buildReplyHeader``), while squid's own error page (for
a name the nginx's certificate does not cover) carries squid's clock.
"""

from __future__ import annotations

import pytest

from tests.lab.services import BUMP_CA_NAME, BUMPED_SKEWED, BUMPED_SKEWED_WRONG_NAME, HOSTS, name

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


def bumped(check, host: str, root: str):
    """dtdoctor through the squid that bumps every tunnel (its CA trusted here, beside the lab's root)."""
    return check("--url", f"https://{host}", "--proxy", f"http://{HOSTS['bumpproxy']}:3128",
                 "--only", "dns,tcp,proxy,tls,api,clock", "--root", root)


def test_through_an_inspecting_squid_the_relayed_date_is_the_servers_and_says_so(check, ntp_root):
    # The +2 h nginx under a name its certificate covers, with no time API there: squid relays its 404 and the
    # Date header in it.
    run = bumped(check, BUMPED_SKEWED, ntp_root("synced"))
    assert run.result("tls")["code"] == "tls.inspected", run.words("tls")
    found = run.result("clock")
    assert (found["code"], found["status"]) == ("clock.server_skew", "fail"), run.words("clock")
    assert found["summary"].startswith(
        f"{BUMPED_SKEWED}'s clock is 2.0 h ahead of this host's (Date header, relayed by the inspecting proxy); "
    )
    details = found["details"]
    assert 7195 < -details["skew_s"] < 7205 and details["answered_by"] == "server"
    assert details["http_status"] == 404 and details["source"] == "Date header"
    assert f"O={BUMP_CA_NAME}" in details["inspected_by"]


def test_squids_own_error_page_is_the_proxys_time_not_the_servers(check, ntp_root):
    # The same +2 h nginx under a name its certificate does not cover: squid answers with ERR_SECURE_CONNECT_FAIL,
    # dated by squid's clock (this machine's), which must neither clear nor blame a clock.
    run = bumped(check, BUMPED_SKEWED_WRONG_NAME, ntp_root("unsynced"))
    assert run.result("api")["code"] == "api.origin_tls_rejected_by_proxy", run.words("api")
    found = run.result("clock")
    assert (found["code"], found["status"]) == ("clock.unknown", "skip"), run.words("clock")
    assert found["summary"].startswith(
        f"could not read the time of {BUMPED_SKEWED_WRONG_NAME}: the answer came from the proxy in between, not "
        f"from {BUMPED_SKEWED_WRONG_NAME} (X-Squid-Error: ERR_SECURE_CONNECT_FAIL 0): its Date header is the "
        "proxy's clock, which says nothing about either clock here"
    ), found["summary"]
    details = found["details"]
    assert details["answered_by"] == "proxy" and "blamed" not in details and "skew_s" not in details
    assert abs(details["proxy_skew_s"]) < 5  # squid runs on this machine's clock
    assert "tls, proxy and api results" in found["remediation"]
