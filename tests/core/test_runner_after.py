"""The runner's ``after``: wait for other results and read them, but run whatever their status."""

from __future__ import annotations

import time

from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.model import Status
from dtdoctor.core.runner import Runner, run_checks
from tests.support.factories import context

TEST_CODES = codes(Code("early.ok", Status.PASS, "ok"), Code("early.bad", Status.FAIL, "bad"))
LATE_CODES = codes(Code("late.saw", Status.PASS, "saw"))


def early_check(code, seconds):
    def run(_):
        time.sleep(seconds)
        return Finding(code, "early")

    return Check(id="early", title="Early", codes=TEST_CODES, plan=lambda ctx: [Probe("a", run)])


def late_check(seen):
    def run(probe: ProbeContext) -> Finding:
        seen.append(probe.result("early", "a"))
        return Finding("late.saw", "late", {"saw": [key for key in probe.prior]})

    probe = Probe("local", run, after=(("early", "a"),))
    return Check(id="late", title="Late", codes=LATE_CODES, plan=lambda ctx: [probe])


def test_after_waits_for_a_failed_result_and_still_runs():
    seen = []
    results = {(r.id, r.target): r for r in run_checks([early_check("early.bad", 0.2), late_check(seen)],
                                                       context(timeout=2.0))}
    late = results[("late", "local")]
    assert late.code == "late.saw" and late.status is Status.PASS
    assert seen[0] is not None and seen[0].code == "early.bad"
    assert late.started_ms >= results[("early", "a")].duration_ms


def test_after_on_an_unselected_check_runs_at_once_without_it():
    seen = []
    results = run_checks([late_check(seen)], context(timeout=2.0))
    assert [r.code for r in results] == ["late.saw"]
    assert seen == [None]


def test_after_counts_toward_the_run_deadline():
    ctx = context(timeout=1.0)
    alone = Runner([late_check([])], ctx).deadline
    chained = Runner([early_check("early.ok", 0), late_check([])], ctx).deadline
    assert chained > alone
