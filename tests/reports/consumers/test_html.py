"""HTML: Debian's headless Chromium renders the host and fleet pages; axe-core audits them.

At 1280 and 390 CSS pixels, in light and dark mode, with every <details> open:
no serious or critical axe-core violation, no landmark nested wrongly, no sideways
scrolling of the page at 390 px, no table cell squeezed so narrow that its
words break (more lines than words), every scrolling region reachable by
keyboard, and no request for anything (the page is self-contained).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.reports.consumers.conftest import Outputs, need, need_program

AUDIT = Path(__file__).with_name("browser_audit.js")
BLOCKING = ("serious", "critical")
# Rules that fail at any impact: a banner nested in <main> is only "moderate" to axe-core.
ALWAYS_BLOCKING = ("landmark-",)


def node_modules() -> str | None:
    """The folder holding puppeteer-core and axe-core from npm (``DTDOCTOR_NODE_MODULES``)."""
    folder = os.environ.get("DTDOCTOR_NODE_MODULES", "")
    wanted = ("puppeteer-core", "axe-core")
    return folder if folder and all((Path(folder) / name).is_dir() for name in wanted) else None


@pytest.fixture(scope="module")
def audit(outputs: Outputs, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    chromium = need_program("chromium", what="Chromium (Debian package chromium)")
    node = need_program("node", "nodejs", what="Node.js (Debian package nodejs)")
    modules = need(node_modules(), "puppeteer-core and axe-core from npm (DTDOCTOR_NODE_MODULES)")
    folder = Path(tmp_path_factory.mktemp("chromium"))
    pages = [outputs.file(run, ".html") for run in ("full", "fail", "unconfigured")] + [outputs.fleet_html]
    result = folder / "audit.json"
    completed = subprocess.run(
        [node, str(AUDIT), chromium, str(folder / "profile"), str(result), *map(str, pages)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "NODE_PATH": modules},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    shutil.rmtree(folder / "profile", ignore_errors=True)
    return list(json.loads(result.read_text()))


def views(audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [view for view in audit if "page" in view]


def name(view: dict[str, Any]) -> str:
    return f"{Path(view['page']).name} at {view['width']} px, {view['scheme']}"


def test_axe_core_finds_no_serious_or_critical_violation(audit):
    found = [(name(view), violation) for view in views(audit) for violation in view["violations"]
             if violation["impact"] in BLOCKING or violation["id"].startswith(ALWAYS_BLOCKING)]
    assert not found, json.dumps(found, indent=1)[:6000]


def test_no_sideways_scrolling_at_phone_width(audit):
    wide = [(name(view), view["scrollWidth"]) for view in views(audit) if view["scrollWidth"] > view["clientWidth"]]
    assert not wide


def test_no_table_cell_squeezed_unreadable(audit):
    squeezed = [(name(view), view["narrow"][:5]) for view in views(audit) if view["narrow"]]
    assert not squeezed


def test_every_scrolling_region_takes_the_keyboard(audit):
    unreachable = [(name(view), region) for view in views(audit) for region in view["scrollers"]
                   if region["tabindex"] is None]
    assert not unreachable


def test_the_pages_load_nothing(audit):
    for view in views(audit):
        assert [url for url in view["requests"] if not url.startswith("file://")] == [], name(view)
