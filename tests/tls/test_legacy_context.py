"""The context that names an outdated server is made in a probe thread: other threads' warning filters stay."""

from __future__ import annotations

import threading
import warnings

import pytest

from dtdoctor.net import tls_probe


def test_a_filter_another_thread_sets_while_a_legacy_context_is_made_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    # warnings.catch_warnings saves the process's filters and puts them back at its end: a filter another probe's
    # thread set meanwhile (certs.py sets one for the serial numbers RFC 5280 forbids) would be dropped.
    monkeypatch.setattr(warnings, "filters", list(warnings.filters))  # this test's filters go with it
    reached, go = threading.Event(), threading.Event()

    def pausing(change):  # type: ignore[no-untyped-def]
        def paused(*args, **kwargs):  # type: ignore[no-untyped-def]
            change(*args, **kwargs)
            if threading.current_thread().name == "legacy":
                reached.set()  # the context is being made under a filter of its own: the other thread acts now
                go.wait(5)

        return paused

    monkeypatch.setattr(warnings, "simplefilter", pausing(warnings.simplefilter))
    monkeypatch.setattr(warnings, "filterwarnings", pausing(warnings.filterwarnings))

    def make() -> None:
        try:
            tls_probe.legacy_context()
        finally:
            reached.set()

    maker = threading.Thread(target=make, name="legacy")
    maker.start()
    assert reached.wait(5)
    warnings.filterwarnings("ignore", message="set by another thread")
    go.set()
    maker.join(5)
    assert any(entry[1] is not None and entry[1].pattern == "set by another thread" for entry in warnings.filters)
