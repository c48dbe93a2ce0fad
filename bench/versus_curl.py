"""A healthy ``dtdoctor check`` side by side with the same probes made by hand with curl.

Run from the repository root:  python bench/versus_curl.py [--runs N]

Loopback test servers (tests/support): a fake Dynatrace environment and one
ActiveGate over HTTPS with certificates from a test CA, a valid token, and a
fake local ingest endpoint (EEC). Each round runs, interleaved, one
``dtdoctor check`` against them and the same requests one after another with
curl: the environment's cluster time, the token lookup, the ActiveGate's
health and the local endpoint. Every command is a real subprocess started
through GNU time (Debian package ``time``): CPU time (user + system) and peak
RSS are the command's own rusage. (A child forked straight from this script
would report this script's resident size as its peak: Linux carries the
pre-exec peak over.) For curl they are summed (CPU) and maxed (RSS) over its
four processes.

Python runs every measured command from compiled bytecode, as it runs an
installed package: ``PYTHONDONTWRITEBYTECODE`` is removed from their
environment, so the warm-up run writes dtdoctor's ``__pycache__``.

The same check without the ``truststore`` check is shown too: where the
system store is older than certifi, that check reads apt's package lists for
a newer package (some 50 MB of text on Debian 12; ``bench/truststore.py``
measures that check alone).

Also: ``dtdoctor --version`` against ``python -c "import click"``, and 8
black-holed endpoints at ``--timeout 2``. Prints a Markdown table.

Targets (issue 16): healthy run <= 2.0x curl, CPU <= 0.5 s, peak RSS <= 60 MB;
``--version`` <= 1.5x ``import click``; 8 black-holed endpoints within 2.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.fake_eec import http_server
from tests.support.listeners import blackhole_port
from tests.support.live_run import Lab, lab

DTDOCTOR = [sys.executable, "-m", "dtdoctor"]
BLACKHOLE_TIMEOUT = 2.0
GNU_TIME = "/usr/bin/time"


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + system
    rss: float  # MB, peak
    code: int


def installed_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a measured command: Python reads and writes compiled bytecode, as an installed
    package runs (pip compiles it at install time); with PYTHONDONTWRITEBYTECODE every run would compile
    each module of dtdoctor from source again."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(command: Sequence[str], env: dict[str, str] | None = None) -> Sample:
    """One child process: its wall time, CPU time, peak RSS and exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as usage:
        started = time.perf_counter()
        done = subprocess.run([GNU_TIME, "-q", "-o", usage.name, "-f", "%U %S %M", *command],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=installed_env(env),
                              check=False)
        wall = time.perf_counter() - started
        user, system, rss_kb = usage.read().split()[-3:]
    return Sample(wall, float(user) + float(system), int(rss_kb) / 1024, done.returncode)


def run_all(commands: Sequence[Sequence[str]]) -> Sample:
    """Commands one after another, as a person at a shell would: wall and CPU summed, RSS the peak."""
    samples = [run(command) for command in commands]
    return Sample(sum(s.wall for s in samples), sum(s.cpu for s in samples),
                  max(s.rss for s in samples), max(s.code for s in samples))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("DT_") and "proxy" not in k.lower()}


def check_command(setup: Lab, eec_port: int) -> list[str]:
    return [*DTDOCTOR, "check", "--url", setup.url, "--activegate", setup.activegate_url,
            "--ca-bundle", str(setup.ca_bundle), "--token-file", str(setup.token_file),
            "--eec-port", str(eec_port), "--timeout", "3", "-f", "json"]


def curl_commands(setup: Lab, eec_port: int) -> list[list[str]]:
    curl = shutil.which("curl") or "curl"
    common = [curl, "-sS", "-o", "/dev/null", "--max-time", "3", "--cacert", str(setup.ca_bundle)]
    auth = ["-H", f"Authorization: Api-Token {setup.token}"]
    return [
        [*common, *auth, f"{setup.url}/api/v1/time"],
        [*common, *auth, "-H", "Content-Type: application/json", "-d", f'{{"token":"{setup.token}"}}',
         f"{setup.url}/api/v2/apiTokens/lookup"],
        [*common, setup.activegate_url.split("/e/")[0] + "/rest/health"],
        [curl, "-sS", "-o", "/dev/null", "--max-time", "3", f"http://127.0.0.1:{eec_port}/v2/events/ingest"],
    ]


@contextlib.contextmanager
def servers() -> Iterator[tuple[Lab, int]]:
    with tempfile.TemporaryDirectory() as folder, lab(Path(folder)) as setup, http_server() as eec_port:
        yield setup, eec_port


def black_holed(count: int) -> Sample:
    with contextlib.ExitStack() as stack:
        ports = [stack.enter_context(blackhole_port()) for _ in range(count)]
        args = [*DTDOCTOR, "check", "--timeout", str(BLACKHOLE_TIMEOUT), "-u", f"https://127.0.0.1:{ports[0]}/e/bench"]
        for port in ports[1:]:
            args += ["--activegate", f"https://127.0.0.1:{port}/e/bench"]
        return run(args, clean_env())


def ms(seconds: float) -> str:
    """Milliseconds; GNU time counts CPU in hundredths of a second, so 0 reads as under 10 ms."""
    return f"{seconds * 1000:.0f} ms" if seconds > 0 else "< 10 ms"


def median(samples: list[Sample], field: str) -> float:
    return float(statistics.median(getattr(s, field) for s in samples))


def healthy_rows(runs: int) -> list[tuple[str, ...]]:
    doctor: list[Sample] = []
    remote: list[Sample] = []
    by_hand: list[Sample] = []
    with servers() as (setup, eec_port):
        command, commands = check_command(setup, eec_port), curl_commands(setup, eec_port)
        run(command)  # warm the page cache once, for both sides, and write dtdoctor's compiled bytecode
        for _ in range(runs):
            doctor.append(run(command))
            by_hand.append(run_all(commands))
            remote.append(run([*command, "--skip", "truststore"]))
    baseline = median(by_hand, "wall")
    return [
        ("curl, the 4 requests one after another", f"{baseline * 1000:.0f} ms", ms(median(by_hand, "cpu")),
         f"{max(s.rss for s in by_hand):.1f} MB", "baseline", ""),
        healthy_row("dtdoctor check, healthy", doctor, baseline),
        healthy_row("dtdoctor check --skip truststore", remote, baseline),
    ]


def healthy_row(name: str, samples: list[Sample], baseline: float) -> tuple[str, ...]:
    wall, cpu, rss = median(samples, "wall"), median(samples, "cpu"), max(s.rss for s in samples)
    ratio = wall / baseline
    codes = ",".join(str(code) for code in sorted({s.code for s in samples}))
    met = ratio <= 2.0 and cpu <= 0.5 and rss <= 60
    return (f"{name} (exit {codes})", f"{wall * 1000:.0f} ms", ms(cpu), f"{rss:.1f} MB",
            "<= 2.0x, CPU <= 500 ms, RSS <= 60 MB", f"{ratio:.1f}x " + ("met" if met else "MISSED"))


def startup_rows(runs: int) -> list[tuple[str, ...]]:
    click: list[Sample] = []
    version: list[Sample] = []
    for _ in range(runs):
        click.append(run([sys.executable, "-c", "import click"]))
        version.append(run([*DTDOCTOR, "--version"]))
    ratio = median(version, "wall") / median(click, "wall")
    return [
        ("python -c 'import click'", f"{median(click, 'wall') * 1000:.0f} ms", ms(median(click, "cpu")),
         f"{max(s.rss for s in click):.1f} MB", "baseline", ""),
        ("dtdoctor --version", f"{median(version, 'wall') * 1000:.0f} ms", ms(median(version, "cpu")),
         f"{max(s.rss for s in version):.1f} MB", "<= 1.5x", f"{ratio:.2f}x " + ("met" if ratio <= 1.5 else "MISSED")),
    ]


def blackhole_rows() -> list[tuple[str, ...]]:
    sample = black_holed(8)
    return [("dtdoctor check, 8 black-holed endpoints, --timeout 2", f"{sample.wall * 1000:.0f} ms",
             ms(sample.cpu), f"{sample.rss:.1f} MB", "<= 2500 ms",
             "met" if sample.wall <= 2.5 else "MISSED")]


def machine() -> str:
    one, five, fifteen = os.getloadavg()
    return (f"{platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {one:.2f} {five:.2f} {fifteen:.2f} (the machine's own, during the run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds of each comparison (medians are reported)")
    options = parser.parse_args()
    for tool, package in ((GNU_TIME, "time"), ("curl", "curl")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed: apt-get install -y {package}")
    rows = healthy_rows(options.runs) + startup_rows(options.runs) + blackhole_rows()
    print(machine() + "\n")
    print("| measurement | wall (median) | CPU per run | peak RSS | target | |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
