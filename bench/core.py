"""Benchmark of the core: concurrency under black-holed endpoints, start-up, memory.

Run from the repository root:  python bench/core.py
Prints a Markdown table (the one in README.md). Every command runs as a real
subprocess; peak RSS is the child's own maximum resident set size.

Targets: 16 black-holed endpoints within timeout + 1 s; ``--version`` within
2x a bare ``import click``; a run with no configuration under 0.5 s; peak RSS
under 60 MB.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.listeners import blackhole_port

TIMEOUT = 2.0
DTDOCTOR = [sys.executable, "-m", "dtdoctor"]


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one run."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
    return elapsed, usage.ru_maxrss / 1024, process.returncode


def best_of(command: list[str], runs: int = 5, env: dict[str, str] | None = None) -> tuple[float, float]:
    samples = [measure(command, env) for _ in range(runs)]
    return min(s[0] for s in samples), statistics.median(s[1] for s in samples)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DT_") and "proxy" not in k.lower()}


def black_holed(count: int) -> tuple[float, float]:
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(blackhole_port()) for _ in range(count)]
        args = [*DTDOCTOR, "check", "--timeout", str(TIMEOUT),
                "-u", f"https://127.0.0.1:{ports[0]}/e/bench"]
        for port in ports[1:]:
            args += ["--activegate", f"https://127.0.0.1:{port}/e/bench"]
        wall, rss, code = measure(args, clean_env())
        assert code == 2, f"expected exit 2 (tcp.timeout), got {code}"
        return wall, rss


def main() -> None:
    rows: list[tuple[str, str, str, str]] = []
    peak = 0.0
    for count in (1, 4, 16):
        wall, rss = black_holed(count)
        peak = max(peak, rss)
        verdict = "met" if wall <= TIMEOUT + 1 else "MISSED"
        rows.append((f"check, {count} black-holed endpoint(s), --timeout 2", f"{wall:.2f} s",
                     f"<= {TIMEOUT + 1:.0f} s", verdict))
    click_wall, _ = best_of([sys.executable, "-c", "import click"])
    version_wall, rss = best_of([*DTDOCTOR, "--version"])
    peak = max(peak, rss)
    rows.append(("python -c 'import click'", f"{click_wall * 1000:.0f} ms", "baseline", ""))
    rows.append(("dtdoctor --version", f"{version_wall * 1000:.0f} ms", f"<= {2 * click_wall * 1000:.0f} ms",
                 "met" if version_wall <= 2 * click_wall else "MISSED"))
    noconf_wall, rss = best_of([*DTDOCTOR, "check"], env=clean_env())
    peak = max(peak, rss)
    rows.append(("dtdoctor check, no configuration", f"{noconf_wall * 1000:.0f} ms", "< 500 ms",
                 "met" if noconf_wall < 0.5 else "MISSED"))
    rows.append(("peak RSS of all runs above", f"{peak:.1f} MB", "< 60 MB", "met" if peak < 60 else "MISSED"))

    print_table(rows)


def print_table(rows: list[tuple[str, str, str, str]]) -> None:
    """The Markdown table the README shows: measurement, result, target, met or MISSED."""
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    print("| measurement | result | target | |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
