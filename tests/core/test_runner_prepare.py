"""The runner's ``prepare``: a probe's work that waits for no result starts with the run."""

from __future__ import annotations

import threading

from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext
from dtdoctor.core.codes import Code, codes
from dtdoctor.core.model import Status
from dtdoctor.core.runner import run_checks
from tests.support.factories import context

FIRST_CODES = codes(Code("first.ok", Status.PASS, "ok"), Code("first.waited_in_vain", Status.FAIL, "in vain"))
SECOND_CODES = codes(Code("second.read", Status.PASS, "read"))


def first_check(prepared: threading.Event) -> Check:
    """A probe that needs the other check's preparation to have run already."""

    def run(_: ProbeContext) -> Finding:
        return Finding("first.ok" if prepared.wait(2.0) else "first.waited_in_vain", "first")

    return Check(id="first", title="First", codes=FIRST_CODES, plan=lambda ctx: [Probe("a", run)])


def second_check(prepared: threading.Event, work=None) -> Check:
    """A probe that waits for the first result, and prepares before it."""

    def prepare(_: object) -> str:
        prepared.set()
        return "store facts"

    def run(probe: ProbeContext) -> Finding:
        return Finding("second.read", "second", {"prepared": probe.prepared()})

    probe = Probe("local", run, after=(("first", "a"),), prepare=work or prepare)
    return Check(id="second", title="Second", codes=SECOND_CODES, plan=lambda ctx: [probe])


def test_a_preparation_runs_before_the_results_its_probe_waits_for_are_in():
    prepared = threading.Event()
    results = {r.id: r for r in run_checks([first_check(prepared), second_check(prepared)], context(timeout=2.0))}
    # The first probe ends only once the second probe's preparation ran: it started with the run.
    assert results["first"].code == "first.ok"
    assert results["second"].code == "second.read"
    assert results["second"].details["prepared"] == "store facts"
    assert results["second"].depends_on == ("first",)


def test_a_crashing_preparation_is_its_probes_crash_alone():
    def broken(_: object) -> str:
        raise RuntimeError("the package lists are unreadable")

    prepared = threading.Event()
    prepared.set()
    results = {r.id: r for r in run_checks([first_check(prepared), second_check(prepared, broken)],
                                           context(timeout=2.0))}
    assert results["first"].code == "first.ok"
    assert results["second"].code == "check.crashed"
    assert "the package lists are unreadable" in results["second"].summary


def test_without_a_runner_a_probe_reads_no_preparation():
    assert ProbeContext(context(), {}).prepared() is None


def test_probes_that_wait_for_nothing_start_before_the_preparations():
    """A probe ready at the start is running when the first preparation begins, not behind it."""
    prepared = threading.Event()
    seen_at_preparation: list[list[str]] = []

    def prepare(_: object) -> str:
        seen_at_preparation.append([thread.name for thread in threading.enumerate()])
        prepared.set()
        return "store facts"

    results = {r.id: r for r in run_checks([first_check(prepared), second_check(prepared, prepare)],
                                           context(timeout=2.0))}
    assert results["first"].code == "first.ok"
    # The first probe waits for the preparation, so its thread was alive when the preparation ran.
    assert "dtdoctor-first-a" in seen_at_preparation[0]


def test_a_ready_probe_reads_its_own_preparation():
    def run(probe: ProbeContext) -> Finding:
        return Finding("second.read", "second", {"prepared": probe.prepared()})

    check = Check(id="second", title="Second", codes=SECOND_CODES,
                  plan=lambda ctx: [Probe("local", run, prepare=lambda _: "store facts")])
    (result,) = run_checks([check], context(timeout=2.0))
    assert result.details["prepared"] == "store facts"
    assert result.depends_on == ()
