"""Sample reports of a healthy and a broken host, made by running the real checks, and the command that writes them.

Each sample is one real ``dtdoctor check`` against the test servers
(``tests/support/live_run.py``: a fake Dynatrace environment and ActiveGate
behind certificates of a test CA) and a fake host filesystem (``--root``, for
the container and OneAgent checks). Nothing in a result is written by hand.
A few things are put in afterwards, so a sample does not show the machine that
made it: the host is called ``web-01`` (x86_64, its kernel the fake root's) and
the temporary folder of the run is ``/etc/dtdoctor``.

    python -m tests.support.samples               # writes reports/*.html and *.json
    python -m tests.support.samples --screenshot  # also reports/broken.png (needs chromium)

Times, ports, latencies, days and certificate fingerprints differ from run to
run. A file in ``reports/`` is rewritten only when something else changed (a
code, a status, a wording, a field, the page's markup), so CI's
``git diff --exit-code reports/`` after this command fails exactly when the
committed samples no longer show what the code makes.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from dtdoctor.core.model import CheckResult, Report
from tests.support import live_run
from tests.support.fake_hosts import FakeHost, running_program

SAMPLE_HOST = "web-01"
SAMPLE_FOLDER = "/etc/dtdoctor"
# Local checks whose verdict the fake root decides. truststore judges this machine's own store, and a
# listening local endpoint is described with this machine's process and IPv6 facts: not in samples.
LOCAL_FAMILIES = "container,oneagent"


@contextlib.contextmanager
def oneagent_process(root: FakeHost, running: bool) -> Iterator[None]:
    """While the run lasts, a process with the name of OneAgent's (a copy of sleep) when ``running``, run from
    OneAgent's folder in the fake root: the run counts only processes under its root, so nothing else
    running on the machine (another test's fake OneAgent in a temporary folder) can show in a sample."""
    if not running:
        yield
        return
    process = subprocess.Popen(running_program(root.mkdir("/opt/dynatrace/oneagent/agent/lib64"), "oneagentos"))
    try:
        yield
    finally:
        process.kill()
        process.wait()


def _run(name: str, host_kind: str, oneagent: bool, extra_families: str = "", **lab: Any) -> Report:
    with tempfile.TemporaryDirectory(prefix="dtdoctor-sample-") as temporary:
        folder = Path(temporary)
        root = FakeHost(folder / "root")
        getattr(root, host_kind)()
        if oneagent:
            root.oneagent()
        with live_run.lab(folder / "lab", **lab) as setup, oneagent_process(root, oneagent):
            outputs = live_run.check(setup, folder, "--root", str(root.root), name=name,
                                     only=f"{live_run.REMOTE_FAMILIES},{LOCAL_FAMILIES}{extra_families}")
        text = outputs.text("json").replace(str(folder), SAMPLE_FOLDER)
    data = json.loads(text)
    # Host facts the fake root cannot give come from the machine that runs this: the sample host's instead.
    data["host"].update(hostname=SAMPLE_HOST, os=f"Linux {data['host'].get('kernel', '')}".strip(),
                        architecture="x86_64")
    return Report.from_json(data)


@functools.cache
def healthy() -> Report:
    """Everything works: certificates valid for months, a token with the scopes it needs."""
    return _run("healthy", "bare_metal", oneagent=True, certificate_days=212.5, token_days=160.5)


@functools.cache
def broken() -> Report:
    """A container without OneAgent, a certificate about to expire, a token without events.ingest,
    and an ActiveGate whose environment API answers 503."""
    return _run("broken", "docker_cgroup_v2", oneagent=False, extra_families=",eec", certificate_days=9.5,
                token_days=None,
                scopes=("logs.ingest", "metrics.ingest"), activegate_api_status=503)


def many_results(count: int = 50) -> Report:
    """A report of ``count`` results (for the renderer benchmark): the broken run's results, repeated per target."""
    base = broken()
    checks: list[CheckResult] = []
    index = 0
    while len(checks) < count:
        for item in base.checks:
            if len(checks) >= count:
                break
            target = item.target if index == 0 else f"{item.target}#{index}"
            checks.append(replace(item, target=target, started_ms=item.started_ms + index * 7))
        index += 1
    return replace(base, checks=tuple(checks))


SAMPLES = {"healthy": healthy, "broken": broken}

# What differs between two runs of the same code: numbers (times, ports, days, latencies), the
# test CA's fingerprints and serial numbers, and what timing decides on the page: a duration in ms
# or s, a bar's label inside or after it, how many ticks the axis has, which probe started first
# (lines are compared as a sorted set) and which is the slowest.
_VOLATILE = (
    (re.compile(r"\b[0-9A-F]{2}(?::[0-9A-F]{2}){7,}\b"), "#"),
    (re.compile(r"\b[0-9A-F]{12,}\b"), "#"),
    (re.compile(r"-?\d+"), "#"),
    (re.compile(r"#(?:\.#)? m?s\b"), "# time"),
    (re.compile(r'class="time (?:inside|after)"( x="[^"]*" y="[^"]*") text-anchor="(?:start|end)"'), 'class="time"'),
    (re.compile(r" (?:· )?slowest"), ""),
)


def shape(text: str) -> str:
    """``text`` with what differs from run to run masked, for comparing two samples."""
    for pattern, mask in _VOLATILE:
        text = pattern.sub(mask, text)
    return "\n".join(sorted(set(text.splitlines())))


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file holds a sample of the same shape; True when written."""
    from dtdoctor.render.output import write_atomic

    try:
        if shape(path.read_text(encoding="utf-8")) == shape(text):
            return False
    except OSError:
        pass
    write_atomic(path, text)
    return True


def write_samples(folder: Path) -> list[Path]:
    """Run every sample and write the files whose shape changed; returns those written."""
    from dtdoctor.render import render

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, build in SAMPLES.items():
        sample = build()
        for fmt, suffix in (("html", ".html"), ("json", ".json")):
            path = folder / f"{name}{suffix}"
            if write_if_changed(path, render(sample, fmt)):
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports", type=Path, help="folder to write into (default: reports)")
    parser.add_argument("--screenshot", action="store_true", help="also render broken.html to broken.png")
    args = parser.parse_args(argv)
    written = write_samples(args.out)
    for path in written:
        print(f"{path}: rewritten (the sample's shape changed)")
    if not written:
        print(f"{args.out}: every sample is current")
    if args.screenshot:
        from tests.support.browser import find_chromium, screenshot

        chromium = find_chromium()
        if chromium is None:
            print("no chromium found: screenshot not taken", file=sys.stderr)
            return 1
        png = args.out / "broken.png"
        screenshot(chromium, args.out / "broken.html", png)
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
