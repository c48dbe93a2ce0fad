"""A real browser for the HTML report: headless Chromium renders a page to PNG.

Used by the browser test (skipped when no Chromium is installed) and by the
sample generator. Chromium is started with everything that would talk to the
network turned off; the page itself loads nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(chromium: str, page: Path, png: Path, width: int = 1280, height: int = 2000,
               timeout: float = 60.0) -> Path:
    """Render ``page`` (a local file) to ``png`` at ``width`` x ``height`` CSS pixels."""
    png = png.resolve()
    with tempfile.TemporaryDirectory(prefix="dtdoctor-chromium-") as profile:
        command = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--hide-scrollbars", "--force-color-profile=srgb",
            f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{height}",
            page.resolve().as_uri(),
        ]
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    if completed.returncode != 0 or not png.exists():
        complaint = completed.stderr.decode(errors="replace")[-800:]
        raise RuntimeError(f"chromium failed ({completed.returncode}): {complaint}")
    return png
