"""The runner: concurrency, prerequisites, crash containment, deadlines."""

from __future__ import annotations

import threading
import time

import pytest

from dtdoctor.checks.base import Check, Finding, Probe
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.model import Status
from dtdoctor.core.runner import Runner, run_checks, select_checks, unknown_selectors
from tests.support.factories import context

TEST_CODES = {
    "first": codes(Code("first.ok", Status.PASS, "ok"), Code("first.bad", Status.FAIL, "bad", remediation="fix first")),
    "second": codes(Code("second.ok", Status.PASS, "ok")),
    "third": codes(Code("third.ok", Status.PASS, "ok")),
}


def make_check(check_id, probes):
    # The runner knows a check's codes from the check itself: no table to patch.
    return Check(id=check_id, title=check_id.title(), codes=TEST_CODES[check_id], plan=lambda ctx: probes)


def sleeper(seconds, code="first.ok"):
    def run(_):
        time.sleep(seconds)
        return Finding(code, f"slept {seconds}")

    return run


def test_independent_probes_run_concurrently():
    # Each probe waits until all eight are in flight at once: run one after another, none would get past
    # the barrier (it breaks after its wait, and every probe crashes), however fast or slow the machine.
    everyone = threading.Barrier(8, timeout=5)

    def together(_):
        everyone.wait()
        return Finding("first.ok", "met the others")

    first = make_check("first", [Probe(f"t{i}", together) for i in range(8)])
    results = run_checks([first], context(timeout=10.0))
    assert [r.target for r in results] == [f"t{i}" for i in range(8)]
    assert all(r.status is Status.PASS for r in results), [r.summary for r in results]


def test_failed_prerequisite_skips_dependents_naming_it():
    first = make_check("first", [Probe("a", sleeper(0, "first.bad")), Probe("b", sleeper(0))])
    second = make_check("second", [Probe("a", sleeper(0, "second.ok"), requires=(("first", "a"),)),
                                   Probe("b", sleeper(0, "second.ok"), requires=(("first", "b"),))])
    results = {(r.id, r.target): r for r in run_checks([first, second], context())}
    skipped = results[("second", "a")]
    assert skipped.status is Status.SKIP and skipped.code == "prerequisite.failed"
    assert skipped.summary == "skipped: first a failed (first.bad)"
    assert skipped.depends_on == ("first",)
    assert results[("second", "b")].status is Status.PASS


def test_a_probe_behind_a_skipped_prerequisite_names_the_failure_that_started_the_chain():
    # tls behind tcp behind a failed proxy: "tcp ... was skipped (prerequisite.failed)" names no cause.
    first = make_check("first", [Probe("a", sleeper(0, "first.bad"))])
    second = make_check("second", [Probe("a", sleeper(0, "second.ok"), requires=(("first", "a"),))])
    third = make_check("third", [Probe("a", sleeper(0, "third.ok"), requires=(("second", "a"),))])
    results = {r.id: r for r in run_checks([first, second, third], context())}
    assert results["third"].code == "prerequisite.failed"
    assert results["third"].summary == "skipped: first a failed (first.bad)"
    assert results["third"].details["prerequisite"] == {"id": "second", "target": "a"}  # what it waited for
    assert results["third"].depends_on == ("second",)


def test_unselected_prerequisite_does_not_block():
    second = make_check("second", [Probe("a", sleeper(0, "second.ok"), requires=(("first", "a"),))])
    (result,) = run_checks([second], context())
    assert result.status is Status.PASS


def test_a_crash_is_an_error_result_for_that_probe_only():

    def boom(_):
        raise RuntimeError("kaput")

    first = make_check("first", [Probe("a", boom), Probe("b", sleeper(0))])
    crashed, fine = run_checks([first], context())
    assert crashed.status is Status.ERROR and crashed.code == "check.crashed"
    assert "RuntimeError: kaput" in crashed.summary and "Traceback" in crashed.traceback
    assert fine.status is Status.PASS


def test_an_unregistered_code_is_reported_as_a_crash():
    first = make_check("first", [Probe("a", sleeper(0, "nope.unknown"))])
    (result,) = run_checks([first], context())
    assert result.code == "check.crashed" and "nope.unknown" in result.summary


def test_an_overrunning_probe_is_abandoned_at_its_limit(monkeypatch):
    import dtdoctor.core.runner as runner_module

    monkeypatch.setattr(runner_module, "GRACE_SECONDS", 0.3)
    released = threading.Event()

    def stuck(_):
        released.wait(30)
        return Finding("first.ok", "released")

    # The limit (0.2 s + 0.3 s) leaves the quick probe half a second to finish; the stuck one would take 30 s.
    first = make_check("first", [Probe("slow", stuck), Probe("fast", sleeper(0))])
    started = time.monotonic()
    try:
        slow, fast = run_checks([first], context(timeout=0.2))
    finally:
        released.set()
    assert time.monotonic() - started < 10  # ended at the limit, not when the stuck probe returned
    assert slow.status is Status.ERROR and slow.code == "check.deadline"
    assert slow.summary == "did not finish within 0.5 s"
    assert fast.status is Status.PASS


def test_the_default_deadline_follows_the_longest_chain():
    first = make_check("first", [Probe("a", sleeper(0), budget=2)])
    second = make_check("second", [Probe("a", sleeper(0, "second.ok"), requires=(("first", "a"),))])
    runner = Runner([first, second], context(timeout=1.0))
    assert runner.deadline == (2 * 1.0 + 1.0) + (1 * 1.0 + 1.0) + 1.0


def test_selection_by_id_and_family_prefix():
    from dtdoctor.checks import CHECKS

    assert [c.id for c in select_checks(CHECKS, only=["config"])] == ["config.url", "config.token"]
    assert "dns" not in [c.id for c in select_checks(CHECKS, skip=["dns"])]
    assert unknown_selectors(CHECKS, ["tcp", "conf", "bogus"]) == ["conf", "bogus"]


def test_a_code_of_another_family_must_be_declared_by_the_check_that_reports_it():
    borrower = make_check("second", [Probe("a", sleeper(0, "first.ok"))])
    (result,) = run_checks([borrower, make_check("first", [])], context())
    assert result.code == "check.crashed" and "second reported first.ok, a code it does not declare" in result.summary


def test_a_code_defined_twice_among_the_given_checks_is_refused():
    twin = Check(id="twin", title="Twin", codes=codes(Code("first.ok", Status.WARN, "other")), plan=lambda ctx: [])
    with pytest.raises(ValueError, match=r"first\.ok"):
        Runner([make_check("first", []), twin], context())


def test_depends_on_is_what_the_probe_waited_for_and_facts_travel_along_it():
    seen = []

    def measure(_):
        return Finding("first.ok", "measured", fact={"answer": 42})

    def reuse(probe):
        seen.append(probe.fact("first", "a"))
        return Finding("second.ok", "reused")

    first = make_check("first", [Probe("a", measure), Probe("b", sleeper(0))])
    waits = Probe("a", reuse, requires=(("first", "a"), ("absent", "x")), after=(("first", "b"),))
    second = make_check("second", [waits, Probe("b", sleeper(0, "second.ok"))])
    runner = Runner([first, second], context())
    results = {(r.id, r.target): r for r in runner.run()}
    assert seen == [{"answer": 42}]
    assert results[("second", "a")].depends_on == ("first",)
    assert runner.waited[("second", "a")] == (("first", "a"), ("first", "b"))
    assert results[("second", "b")].depends_on == () and results[("first", "a")].depends_on == ()
    assert "answer" not in results[("first", "a")].to_json()["details"]


def test_a_plan_that_waits_on_the_host_holds_up_only_the_probes_that_name_its_check():
    answered = threading.Event()  # set by a probe: a plan the run waited for before starting would never see it

    def late_plan(_):
        assert answered.wait(5), "the run waited for this plan before starting its probes"
        return [Probe("port", sleeper(0, "second.ok"))]

    def answer(_):
        answered.set()
        return Finding("first.ok", "answered")

    first = make_check("first", [Probe("a", answer)])
    late = Check(id="second", title="Second", codes=TEST_CODES["second"], plan=late_plan, plan_waits=True)
    after_late = make_check("third", [Probe("a", sleeper(0, "third.ok"), after=(("second", "port"),))])
    events = []
    runner = Runner([first, late, after_late], context(timeout=2.0), lambda event, key, _: events.append((event, key)))
    results = runner.run()
    # Report order is the checks' order; the probe that named the late check waited for its result.
    assert [(r.id, r.target, r.code) for r in results] == [
        ("first", "a", "first.ok"), ("second", "port", "second.ok"), ("third", "a", "third.ok")
    ]
    assert runner.waited[("third", "a")] == (("second", "port"),)
    assert events.index(("planned", ("second", "port"))) < events.index(("start", ("third", "a")))


def test_an_error_of_a_plan_that_waits_on_the_host_is_raised_by_the_run():
    def broken(_):
        raise ValueError("no port")

    late = Check(id="second", title="Second", codes=TEST_CODES["second"], plan=broken, plan_waits=True)
    with pytest.raises(ValueError, match="no port"):
        Runner([make_check("first", [Probe("a", sleeper(0))]), late], context(timeout=2.0)).run()


def test_a_plan_that_never_ends_is_given_up_at_the_runs_backstop():
    stuck = threading.Event()

    def never(_):
        stuck.wait(30)
        return []

    late = Check(id="second", title="Second", codes=TEST_CODES["second"], plan=never, plan_waits=True)
    ran = threading.Event()

    def third(_):
        ran.set()
        return Finding("third.ok", "ran")

    after_late = make_check("third", [Probe("a", third, after=(("second", "port"),))])
    started = time.monotonic()
    try:
        results = Runner([make_check("first", [Probe("a", sleeper(0))]), late, after_late], context(timeout=0.2),
                         deadline=0.5).run()
    finally:
        stuck.set()
    assert time.monotonic() - started < 5
    # The stuck check says it was not checked, and what waited for it is past the backstop too: it never
    # starts, so a quick probe cannot race the runner to a result after the deadline.
    assert [(r.id, r.target, r.code) for r in results] == [
        ("first", "a", "first.ok"), ("second", "-", "check.deadline"), ("third", "a", "check.deadline")
    ]
    assert results[1].summary == "not checked: its plan, which asks the host, did not finish within 0.5 s"
    assert results[2].summary == "did not start: the run reached its 0.5 s deadline first"
    assert not ran.wait(0.2)


def test_a_run_of_checks_planned_late_alone_waits_for_their_plans() -> None:
    """``--only eec``: no probe is planned before the run, yet the plan may take most of a timeout; and the
    probe it plans then has its own limit, past the backstop the run started with (2 + 1 s)."""

    def slow_plan(_):
        time.sleep(1.5)
        return [Probe("port", sleeper(1.6, "second.ok"), budget=1.0)]

    late = Check(id="second", title="Second", codes=TEST_CODES["second"], plan=slow_plan, plan_waits=True)
    results = Runner([late], context(timeout=2.0)).run()
    assert [(r.id, r.target, r.code) for r in results] == [("second", "port", "second.ok")]
