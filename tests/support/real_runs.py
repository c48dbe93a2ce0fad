"""Real ``dtdoctor check`` runs for the consumer tests: the command, run as a user runs it.

A small lab on loopback: the fake Dynatrace API over HTTPS with a test CA,
three API tokens (healthy, expiring in five days, missing the ingest scope)
in token files, and a closed port for the local ingest endpoint. Each
scenario is a command line that a monitoring system or CI job would run;
``run`` starts it as a separate process (``python -m dtdoctor check``), so
the output is what the installed tool writes, not a renderer called in-process.

    with lab(tmp_path) as here:
        completed = run(here, "warn", "-f", "nagios")
"""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from tests.support.fake_dynatrace import FakeDynatrace, days_from_now, make_token, serve
from tests.support.listeners import closed_port

# pass: every check passes; warn: the token expires in 5 days; fail: the token lacks events.ingest.
SCENARIOS = ("pass", "warn", "fail")
REMOTE_CHECKS = "config,dns,tcp,tls,api,token"
_TOKENS = {
    "pass": {"public": "CONSUMERPASS", "scopes": ("events.ingest",), "expires": 300},
    "warn": {"public": "CONSUMERWARN", "scopes": ("events.ingest",), "expires": 5},
    "fail": {"public": "CONSUMERFAIL", "scopes": ("metrics.read",), "expires": 300},
}
# The exit code each scenario must end with (the Nagios plugin codes).
EXPECTED_EXIT = {"pass": 0, "warn": 1, "fail": 2, "usage": 3}
# A command line dtdoctor refuses: the timeout is not a number.
USAGE_ERROR_ARGS = ("--timeout", "soon")


@dataclass(frozen=True)
class Lab:
    url: str
    ca_bundle: Path
    token_files: dict[str, Path]
    eec_port: int
    folder: Path


@contextlib.contextmanager
def lab(folder: Path) -> Iterator[Lab]:
    """The fake API on a loopback port for as long as the block runs."""
    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    fake = FakeDynatrace()
    token_files: dict[str, Path] = {}
    for scenario, spec in _TOKENS.items():
        token = fake.add(make_token(str(spec["public"])), scopes=spec["scopes"],
                         expires=days_from_now(float(str(spec["expires"]))))
        path = folder / f"token-{scenario}"
        path.write_text(token + "\n", encoding="utf-8")
        path.chmod(0o600)
        token_files[scenario] = path
    with serve(fake, context) as running:
        yield Lab(running.url(), bundle, token_files, closed_port(), folder)


def check_args(here: Lab, scenario: str, *extra: str, only: str | None = REMOTE_CHECKS) -> list[str]:
    """``dtdoctor check`` arguments for a scenario (``usage`` is a command line dtdoctor refuses).

    ``only``: the checks to run (None: every check, as on a real host).
    """
    token = here.token_files["pass" if scenario == "usage" else scenario]
    args = ["check", "--url", here.url, "--token-file", str(token), "--ca-bundle", str(here.ca_bundle),
            "--eec-port", str(here.eec_port), "--timeout", "3"]
    if only is not None:
        args += ["--only", only]
    if scenario == "usage":
        args += list(USAGE_ERROR_ARGS)
    return args + list(extra)


def command(*args: str) -> list[str]:
    """The command line that runs dtdoctor from this checkout with this interpreter."""
    return [sys.executable, "-m", "dtdoctor", *args]


def environment() -> dict[str, str]:
    """A clean environment: no proxy or Dynatrace variable of the caller leaks into the run."""
    root = str(Path(__file__).resolve().parents[2])
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    return {**keep, "PYTHONPATH": root, "NO_COLOR": "1"}


def run(here: Lab, scenario: str, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_args(check_args(here, scenario, *extra), timeout=timeout)


def run_args(args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, env=environment(), timeout=timeout,
                          check=False)
