"""``net/quiet.py``: a warning dtdoctor causes on purpose is ignored once for the whole process."""

from __future__ import annotations

import warnings

from dtdoctor.net import quiet


def test_a_warning_is_ignored_by_one_filter_however_often_it_is_asked_for() -> None:
    with warnings.catch_warnings(record=True) as shown:  # the test's own thread: put back when it ends
        warnings.simplefilter("always")
        quiet.ignore(r"Parsed a negative serial", UserWarning)
        quiet.ignore(r"Parsed a negative serial", UserWarning)
        ours = [entry for entry in warnings.filters if getattr(entry[1], "pattern", None) == "Parsed a negative serial"]
        warnings.warn("Parsed a negative serial number", UserWarning, stacklevel=1)
        warnings.warn("Parsed a negative serial number", DeprecationWarning, stacklevel=1)  # another category: shown
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert len(ours) == 1
    assert [(type(w.message), str(w.message)) for w in shown] == [
        (DeprecationWarning, "Parsed a negative serial number"), (UserWarning, "something else")
    ]
