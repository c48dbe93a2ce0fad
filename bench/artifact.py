"""Benchmark of the single-file artifact: its size and how fast it starts.

Run from the repository root, after scripts/build-pyz:  python bench/artifact.py
(the Python running it must have dtdoctor installed: its ``dtdoctor`` script
is the baseline). Prints a Markdown table (the one in README.md).

- first run: a fresh cache folder, so the wheels are checked and unpacked;
- later runs: the same cache, already unpacked (and byte-compiled by the
  first run), as every run after the first on a host;
- baseline: the installed ``dtdoctor --version`` of this Python.

Target: later runs start within 1.5x of the installed ``dtdoctor --version``.
Every run is a real subprocess; times are the best of several runs, the
baseline's and the artifact's interleaved.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7


def artifact() -> Path:
    version = re.search(r'__version__ = "(.+)"', (ROOT / "dtdoctor" / "__init__.py").read_text())
    path = ROOT / "dist" / f"dtdoctor-{version.group(1) if version else ''}.pyz"
    if not path.exists():
        sys.exit(f"{path} is missing: run scripts/build-pyz first")
    return path


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def folder_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def main() -> None:
    pyz = artifact()
    installed = shutil.which("dtdoctor", path=str(Path(sys.executable).parent))
    if not installed:
        sys.exit(f"no dtdoctor script beside {sys.executable}: install dtdoctor into this Python first")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DT_", "XDG_"))}
    with tempfile.TemporaryDirectory() as scratch:
        first = []
        for run in range(3):
            cache = {**env, "XDG_CACHE_HOME": f"{scratch}/first-{run}"}
            first.append(wall([sys.executable, "-I", str(pyz), "--version"], cache))
        warm_env = {**env, "XDG_CACHE_HOME": f"{scratch}/first-0"}
        # Interleaved, so load from elsewhere on the machine falls on both alike.
        pairs = [(wall([installed, "--version"], env), wall([sys.executable, "-I", str(pyz), "--version"], warm_env))
                 for _ in range(RUNS)]
        baseline, later = min(pair[0] for pair in pairs), min(pair[1] for pair in pairs)
        (unpacked,) = Path(scratch, "first-0", "dtdoctor").iterdir()
        unpacked_mb = folder_size(unpacked) / 1e6
    ratio = later / baseline
    rows = [
        ("artifact size", f"{pyz.stat().st_size / 1e6:.1f} MB", "", ""),
        ("unpacked for one Python (with byte code)", f"{unpacked_mb:.1f} MB", "", ""),
        ("installed `dtdoctor --version`", f"{baseline * 1000:.0f} ms", "baseline", ""),
        ("`python3 -I dtdoctor.pyz --version`, first run (unpacks)", f"{min(first) * 1000:.0f} ms", "", ""),
        ("`python3 -I dtdoctor.pyz --version`, later runs", f"{later * 1000:.0f} ms ({ratio:.2f}x)",
         "<= 1.5x baseline", "met" if ratio <= 1.5 else "MISSED"),
    ]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    print("| measurement | result | target | |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
