"""Benchmark of ``dtdoctor merge``: wall time and peak memory over many synthetic host reports.

Usage: python bench/merge.py [--hosts 1000,10000] [--padding 1,20] [--keep DIR] [--before-evidence]

For each host count it writes that many realistic reports (a dozen results,
a share of hosts with TLS, firewall and scope problems, evidence in the
details) into a temporary folder, then runs ``python -m dtdoctor merge`` over
the folder once writing fleet.json and once fleet.html, in a fresh process
each, and reports the wall time and the merge process's peak RSS. ``--padding``
multiplies the evidence in every report, which shows whether memory follows
the raw input size (it should not) or only the number of hosts. The target is
10,000 reports in under 10 seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_SECONDS = 10.0


def result(check_id: str, target: str, status: str, code: str, summary: str, evidence: dict[str, Any] | None = None,
           **details: Any) -> dict[str, Any]:
    return {
        "id": check_id, "target": target, "title": check_id.upper(), "status": status, "code": code,
        "summary": summary, "remediation": "", "details": details, "evidence": evidence or {}, "duration_ms": 12,
        "depends_on": [], "started_ms": 0,
    }


def before_evidence(report: dict[str, Any]) -> dict[str, Any]:
    """The report as dtdoctor wrote it before results carried typed ``evidence`` (merge adapts it)."""
    for item in report["checks"]:
        del item["evidence"]
    return report


def synthetic_report(index: int, rng: random.Random, padding: int) -> dict[str, Any]:
    host = f"host-{index:05d}.example.internal"
    saas = "abc12345.live.dynatrace.com"
    evidence = [f"attempt from 10.{rng.randrange(255)}.{rng.randrange(255)}.{n}" for n in range(4 * padding)]
    checks = [
        result("config.url", saas, "pass", "url.ok", "SaaS environment abc12345", kind="saas"),
        result("config.token", "local", "pass", "token.present", "token dt0c01.ABC from DT_API_TOKEN"),
        result("dns", saas, "pass", "dns.ok", "resolved", ipv4=["192.0.2.10"], nameservers=["10.0.0.2"]),
        result("tcp", f"{saas}:443", "pass", "tcp.open", "connected", {"latency_ms": 12, "route": "direct"},
               attempts=evidence, latency_ms=12),
        result("clock", saas, "pass", "clock.ok", "clock within 1 s"),
        result("oneagent", "local", "pass", "oneagent.installed", "OneAgent 1.281"),
        result("container", "local", "pass", "container.none", "not in a container"),
    ]
    roll = rng.random()
    if roll < 0.15:  # behind the inspecting proxy
        checks.append(result("tls", f"{saas}:443", "fail", "tls.untrusted_root", "untrusted root",
                             {"certificate_root": "CN=Corp Inspecting Proxy Root CA"},
                             untrusted_root="CN=Corp Inspecting Proxy Root CA", chain=evidence))
    else:
        checks.append(result("tls", f"{saas}:443", "pass", "tls.ok", "trusted", chain=evidence))
    if roll > 0.9:  # the DMZ cannot reach the ActiveGate
        checks.append(result("tcp", "ag.example.internal:9999", "fail", "tcp.timeout", "no answer",
                             attempts=evidence))
    if 0.5 < roll < 0.55:
        checks.append(result("token", saas, "fail", "token.missing_scope", "missing events.ingest",
                             {"missing_scopes": ["events.ingest"], "http_status": 200},
                             missing_scopes=["events.ingest"]))
    if 0.6 < roll < 0.7:
        checks.append(result("eec", "127.0.0.1:14499", "warn", "eec.not_listening", "nothing on 14499"))
    statuses = [item["status"] for item in checks]
    worst = max(statuses, key=["pass", "skip", "warn", "fail", "error"].index)
    return {
        "schema": "dtdoctor.report/v1",
        "tool": {"name": "dtdoctor", "version": "1.0.0"},
        "generated_at": f"2026-11-22T{index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d}Z",
        "duration_ms": 400,
        "host": {"hostname": host, "os": "Linux 6.1", "python": "3.11.7", "container": None},
        "config": {"url": f"https://{saas}", "token": None, "scopes": ["events.ingest"], "timeout_s": 5},
        "status": worst,
        "exit_code": {"pass": 0, "skip": 0, "warn": 1, "fail": 2, "error": 3}[worst],
        "counts": {name: statuses.count(name) for name in ("pass", "warn", "fail", "skip", "error")},
        "checks": checks,
    }


def write_reports(folder: Path, hosts: int, padding: int, old: bool = False) -> int:
    rng = random.Random(hosts * 31 + padding)
    total = 0
    for index in range(hosts):
        # A few hundred per sub-folder, as fetched from an inventory's groups.
        path = folder / f"group-{index // 500:03d}" / f"host-{index:05d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        report = synthetic_report(index, rng, padding)
        text = json.dumps(before_evidence(report) if old else report, indent=2)
        path.write_text(text, encoding="utf-8")
        total += len(text)
    return total


def timed_merge(folder: Path, output: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and exit code of one merge in a fresh process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "dtdoctor", "merge", str(folder), "-o", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8
    # ru_maxrss is KiB on Linux.
    return wall, usage.ru_maxrss / 1024, process.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1000,10000", help="comma-separated host counts")
    parser.add_argument("--padding", default="1,20", help="comma-separated evidence multipliers")
    parser.add_argument("--keep", help="write the reports and fleet files here instead of a temporary folder")
    parser.add_argument("--before-evidence", action="store_true",
                        help="reports as written before typed evidence (merge reads them through its adapter)")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dtdoctor-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    failed = False
    try:
        for hosts in (int(item) for item in args.hosts.split(",")):
            for padding in (int(item) for item in args.padding.split(",")):
                folder = base / f"reports-{hosts}-x{padding}"
                shutil.rmtree(folder, ignore_errors=True)
                size = write_reports(folder, hosts, padding, args.before_evidence)
                for suffix in ("json", "html"):
                    output = base / f"fleet-{hosts}-x{padding}.{suffix}"
                    wall, rss, code = timed_merge(folder, output)
                    over = hosts >= 10_000 and wall >= TARGET_SECONDS
                    failed = failed or over or code not in (0, 1, 2)
                    rows.append((f"{hosts}", f"x{padding}", f"{size / 1e6:.1f}", suffix, f"{wall:.2f}",
                                 f"{rss:.0f}", f"{output.stat().st_size / 1e6:.1f}", str(code),
                                 "OVER" if over else "ok"))
                if not args.keep:
                    shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    header = ("hosts", "evidence", "input MB", "output", "wall s", "peak RSS MiB", "output MB", "exit", "target")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths)))
    print(f"target: {TARGET_SECONDS:.0f} s for 10,000 reports; CPUs: {os.cpu_count()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
