"""The ``truststore`` check in a healthy ``dtdoctor check``: its CPU cost, and when it ends against ``token``.

Run from the repository root:  python bench/truststore.py [--runs N] [TREE ...]

Each TREE is a source tree of dtdoctor (a checkout, or ``git archive REV |
tar -x -C TREE``); the default is this one. The healthy check of
``bench/versus_curl.py`` runs against its loopback test servers from every
tree in turn, round after round (interleaved, so a machine that slows down
slows every tree alike), from compiled bytecode (``PYTHONPATH`` picks the
tree). Per run: CPU time of the process and every process it waited for
(an ``apt-helper`` it runs counts), and from the JSON
report the end of ``truststore`` (``started_ms + duration_ms``) minus the
end of ``token``, the last result of the critical path tls -> api -> token:
negative when ``truststore`` is done first. Medians; ``--skip truststore``
once per round too, for what the check costs in all.

On a 2-core machine every ms of CPU the check spends slows the critical path
as well, so CPU time is the number to compare; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.versus_curl import check_command, installed_env, machine, servers

HERE = str(Path(__file__).resolve().parent.parent)


@dataclass
class Run:
    wall: float  # ms
    cpu: float  # ms, the process and its waited-for children
    after_token: float | None  # ms: truststore's end minus token's; None without truststore
    code: str  # truststore's result code


def _ends(report: dict[str, Any]) -> dict[str, int]:
    ends: dict[str, int] = {}
    for check in report["checks"]:
        end = check["started_ms"] + check["duration_ms"]
        ends[check["id"]] = max(end, ends.get(check["id"], 0))
    return ends


def _report(command: list[str], tree: str) -> dict[str, Any]:
    env = installed_env()
    env["PYTHONPATH"] = tree
    output = subprocess.run(command, env=env, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            check=False).stdout
    report: dict[str, Any] = json.loads(output)
    return report


def measured(command: list[str], tree: str) -> Run:
    """One run; its CPU time is its process tree's (subprocess.run reaps it, so the children's totals grow by
    exactly that: this script has no other child meanwhile)."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    report = _report(command, tree)
    wall, after = (time.perf_counter() - started) * 1000, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    ends = _ends(report)
    codes = [check["code"] for check in report["checks"] if check["id"] == "truststore"]
    late = ends["truststore"] - ends["token"] if "truststore" in ends and "token" in ends else None
    return Run(wall, cpu, late, codes[0] if codes else "-")


def _median(values: list[float | None]) -> str:
    known = [value for value in values if value is not None]
    return f"{statistics.median(known):.0f}" if known else "n/a"


def row(tree: str, runs: list[Run], skipped: list[Run]) -> str:
    label = "this tree" if tree == HERE else tree
    return (f"| {label} | {_median([r.cpu for r in runs])} ms | {_median([r.wall for r in runs])} ms | "
            f"{_median([r.after_token for r in runs])} ms | {sum(1 for r in runs if (r.after_token or 0) < 0)}"
            f"/{len(runs)} | {_median([r.cpu for r in skipped])} ms | {runs[0].code} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (medians are reported)")
    parser.add_argument("trees", nargs="*", default=[HERE], help="dtdoctor source trees to compare")
    options = parser.parse_args()
    trees = [os.path.abspath(tree) for tree in options.trees]
    runs: dict[str, list[Run]] = {tree: [] for tree in trees}
    skipped: dict[str, list[Run]] = {tree: [] for tree in trees}
    with servers() as (setup, eec_port):
        command = check_command(setup, eec_port)
        for tree in trees:
            _report(command, tree)  # writes the tree's compiled bytecode, warms the page cache
        for _ in range(options.runs):
            for tree in trees:
                runs[tree].append(measured(command, tree))
                skipped[tree].append(measured([*command, "--skip", "truststore"], tree))
    print(machine() + f"\n\nmedians of {options.runs} interleaved rounds\n")
    print("| tree | CPU per run | wall | truststore ends after token | runs it ended first | CPU with "
          "`--skip truststore` | truststore |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for tree in trees:
        print(row(tree, runs[tree], skipped[tree]))


if __name__ == "__main__":
    main()
