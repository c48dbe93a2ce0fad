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
baseline's and the artifact's interleaved. CPU time is shown too: on a
machine busy with other work it varies far less than wall time.
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
sys.path.insert(0, str(ROOT))
RUNS = 15

from bench.core import print_table  # noqa: E402  (needs the repository on sys.path)


def artifact() -> Path:
    version = re.search(r'__version__ = "(.+)"', (ROOT / "dtdoctor" / "__init__.py").read_text())
    path = ROOT / "dist" / f"dtdoctor-{version.group(1) if version else ''}.pyz"
    if not path.exists():
        sys.exit(f"{path} is missing: run scripts/build-pyz first")
    return path


def wall(command: list[str], env: dict[str, str]) -> float:
    return timed(command, env)[0]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{' '.join(command)} failed")
    return elapsed, usage.ru_utime + usage.ru_stime


def folder_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def first_runs(pyz: Path, env: dict[str, str], scratch: str) -> float:
    """Best of three first runs, each with a fresh cache folder (scratch/first-N)."""
    command = [sys.executable, "-I", str(pyz), "--version"]
    return min(wall(command, {**env, "XDG_CACHE_HOME": f"{scratch}/first-{run}"}) for run in range(3))


def later_runs(pyz: Path, installed: str, env: dict[str, str], cache: str) -> tuple[tuple[float, float], ...]:
    """(wall, CPU) of the installed command and of the artifact's later runs, each the best of RUNS.

    Interleaved, so load from elsewhere on the machine falls on both alike.
    """
    pairs = [(timed([installed, "--version"], env),
              timed([sys.executable, "-I", str(pyz), "--version"], {**env, "XDG_CACHE_HOME": cache}))
             for _ in range(RUNS)]
    return tuple((min(pair[side][0] for pair in pairs), min(pair[side][1] for pair in pairs)) for side in (0, 1))


def main() -> None:
    pyz = artifact()
    installed = shutil.which("dtdoctor", path=str(Path(sys.executable).parent))
    if not installed:
        sys.exit(f"no dtdoctor script beside {sys.executable}: install dtdoctor into this Python first")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DT_", "XDG_"))}
    with tempfile.TemporaryDirectory() as scratch:
        first = first_runs(pyz, env, scratch)
        (baseline, baseline_cpu), (later, later_cpu) = later_runs(pyz, installed, env, f"{scratch}/first-0")
        (unpacked,) = Path(scratch, "first-0", "dtdoctor").iterdir()
        unpacked_mb = folder_size(unpacked) / 1e6
    ratio = later / baseline
    print_table([
        ("artifact size", f"{pyz.stat().st_size / 1e6:.1f} MB", "", ""),
        ("unpacked for one Python (with byte code)", f"{unpacked_mb:.1f} MB", "", ""),
        ("installed `dtdoctor --version`", f"{baseline * 1000:.0f} ms", "baseline", ""),
        ("`python3 -I dtdoctor.pyz --version`, first run (unpacks)", f"{first * 1000:.0f} ms", "", ""),
        ("`python3 -I dtdoctor.pyz --version`, later runs", f"{later * 1000:.0f} ms ({ratio:.2f}x)",
         "<= 1.5x baseline", "met" if ratio <= 1.5 else "MISSED"),
        ("CPU time (user + system): installed, later runs of the artifact",
         f"{baseline_cpu * 1000:.0f} ms, {later_cpu * 1000:.0f} ms ({later_cpu / baseline_cpu:.2f}x)", "", ""),
    ])


if __name__ == "__main__":
    main()
