"""The fleet HTML page: one self-contained file for many hosts' merged reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dtdoctor.fleet import Fleet


def render(fleet: Fleet) -> str:
    import html

    return f"<!doctype html><title>dtdoctor fleet</title><p>{html.escape(fleet.status.value)}</p>\n"
