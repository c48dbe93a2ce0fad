"""``core.background``: work started early in a thread; its value or its error is handed to who asks."""

from __future__ import annotations

import threading

import pytest

from dtdoctor.core.background import Background


def test_the_value_is_handed_on_once_the_work_is_done() -> None:
    release = threading.Event()
    work = Background(lambda: release.wait(10) and 42, "test-work")
    assert not work.wait(0.05)  # still running: a bounded wait says so
    release.set()
    assert work.result() == 42 and work.wait(0)


def test_the_error_of_the_work_is_raised_to_who_asks() -> None:
    def broken() -> int:
        raise ValueError("unreadable")

    work = Background(broken, "test-work")
    with pytest.raises(ValueError, match="unreadable"):
        work.result()
