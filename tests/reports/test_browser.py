"""A real browser renders the broken run's report (skipped when no Chromium is installed)."""

from __future__ import annotations

import struct

import pytest

from dtdoctor.render import render
from dtdoctor.render.output import write_atomic
from tests.support import samples
from tests.support.browser import find_chromium, screenshot

CHROMIUM = find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed")
def test_headless_chromium_renders_the_broken_report(tmp_path):
    assert CHROMIUM is not None
    page = tmp_path / "broken.html"
    write_atomic(page, render(samples.broken(), "html"))
    png = screenshot(CHROMIUM, page, tmp_path / "broken.png", width=1280, height=2000)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    # A blank page compresses to a few kilobytes; a rendered report with text, badges and the timeline does not.
    assert len(data) > 60_000
