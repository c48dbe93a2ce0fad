"""``RunContext.memo``: a host fact is computed once per run, also when two threads ask at once."""

from __future__ import annotations

import threading

from tests.support.factories import context


def test_a_second_thread_waits_for_the_answer_being_computed_instead_of_computing_it_again() -> None:
    ctx = context()
    computing, release = threading.Event(), threading.Event()
    computed: list[str] = []

    def slow() -> int:
        computed.append(threading.current_thread().name)
        computing.set()
        assert release.wait(5)
        return 14600

    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(ctx.memo("eec_port", slow)), name="plan")
    first.start()
    assert computing.wait(5)  # the plan is running oneagentctl
    second = threading.Thread(target=lambda: answers.append(ctx.memo("eec_port", slow)), name="probe")
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the plan's answer, not asking again
    release.set()
    first.join(5)
    second.join(5)
    assert answers == [14600, 14600] and computed == ["plan"]


def test_different_facts_are_computed_independently() -> None:
    ctx = context()
    assert ctx.memo("a", lambda: 1) == 1 and ctx.memo("b", lambda: 2) == 2 and ctx.memo("a", lambda: 3) == 1


def test_a_fact_that_asks_for_itself_is_an_error_not_a_hang() -> None:
    ctx = context()
    outcome: list[object] = []

    def ask() -> None:
        try:
            outcome.append(ctx.memo("eec_port", lambda: ctx.memo("eec_port", lambda: 1)))
        except RuntimeError as error:
            outcome.append(str(error))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(5)
    assert outcome == ["the host fact 'eec_port' is asked for while it is computed"]
    # The failed computation left nothing behind: the fact can be computed afterwards.
    assert ctx.memo("eec_port", lambda: 14499) == 14499
