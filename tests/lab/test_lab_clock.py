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
