"""The lab fixture: build the namespaces and servers once per test run, tear them down after.

Where the machine cannot make network namespaces (not root, a package
missing), the lab tests are skipped with the reason; with ``CI=true`` that is
a failure instead, so CI never passes without having run the lab.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab import netns, services

pytestmark = pytest.mark.lab

_BUSY_WAIT_S = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the network lab cannot run, and CI must not skip it: {reason}", pytrace=False)
    pytest.skip(f"network lab unavailable: {reason}")


@pytest.fixture(scope="session")
def lab() -> Iterator[services.Lab]:
    if sys.platform != "linux" or os.geteuid() != 0:
        _unavailable("needs Linux and root to create network namespaces")
    in_ci = os.environ.get("CI", "").lower() == "true"
    # Outside CI a test run does not queue behind another one's lab for long: it skips, saying so.
    lock = netns.acquire_lock(None if in_ci else _BUSY_WAIT_S)
    if lock is None:
        pytest.skip(f"network lab busy: another test run on this machine holds it (waited {_BUSY_WAIT_S} s)")
    started = time.monotonic()
    built: services.Lab | None = None
    try:
        try:
            netns.create(list(services.HOSTS.values()), list(services.HOSTS6.values()), services.HOSTS["dns"])
            # Not under pytest's private temporary folder: squid and nginx workers drop privileges and use it.
            built = services.start_all(netns.scratch_folder())
        except netns.LabUnavailable as exc:
            _unavailable(str(exc))
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            detail = getattr(exc, "stderr", "") or ""
            pytest.fail(f"the network lab did not start: {exc} {detail}", pytrace=False)
        sys.stderr.write(f"\nnetwork lab up in {time.monotonic() - started:.1f} s\n")
        yield built
    finally:
        if built is not None:
            built.stop()
        netns.remove()
        lock.close()


@dataclass(frozen=True)
class Run:
    """One ``dtdoctor check`` in the client namespace."""

    exit_code: int
    report: dict[str, Any]
    stdout: str
    stderr: str
    seconds: float

    def result(self, check_id: str, target: str | None = None) -> dict[str, Any]:
        found = [c for c in self.report["checks"] if c["id"] == check_id and (target is None or c["target"] == target)]
        assert found, f"no {check_id} result for {target}: {[(c['id'], c['target']) for c in self.report['checks']]}"
        return found[0]

    def words(self, check_id: str, target: str | None = None) -> str:
        """The summary and remediation a reader sees, as one string."""
        found = self.result(check_id, target)
        return f"{found['summary']} | {found.get('remediation') or ''}"


def dtdoctor(*args: str, env: dict[str, str] | None = None, timeout: float = 3, fmt: str = "json") -> Run:
    """Run ``dtdoctor check`` inside the client namespace with the lab's root CA trusted."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    environment.update(env or {})
    argv = ["ip", "netns", "exec", netns.CLIENT, sys.executable, "-m", "dtdoctor", "check", "--no-color",
            "--timeout", f"{timeout:g}", "-f", fmt, *args]
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=120,
                          cwd=str(Path(__file__).resolve().parents[2]))
    seconds = time.monotonic() - started
    report = json.loads(done.stdout) if fmt == "json" and done.stdout.startswith("{") else {}
    return Run(done.returncode, report, done.stdout, done.stderr, seconds)


@pytest.fixture()
def check(lab: services.Lab) -> Any:
    """``check(*args)``: dtdoctor in the client namespace, trusting the lab's root CA."""

    def run(*args: str, **options: Any) -> Run:
        return dtdoctor("--ca-bundle", str(lab.certs.ca_file), *args, **options)

    return run
