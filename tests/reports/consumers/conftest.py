"""Real dtdoctor output for the real software that reads it.

One session-wide set of report files, written by real ``dtdoctor check``
runs (separate processes) against the loopback lab: the pass, warn and fail
scenarios, a run of every check, and a run with no configuration at all;
plus the fleet page ``dtdoctor merge`` makes of them. Every consumer test
reads these files, as a monitoring system or CI server would.

A consumer that is not installed skips the test with the reason, except under
CI (``CI=true``), where a missing consumer fails it: CI never passes by
skipping what it is there to prove.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.real_runs import EXPECTED_EXIT, SCENARIOS, Lab, check_args, lab, run_args

HERE = Path(__file__).parent
SUFFIXES = (".json", ".html", ".xml", ".prom")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder is a consumer test: ``-m consumers`` selects them, ``-m 'not consumers'`` not."""
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.consumers)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(found: str | None, what: str) -> str:
    """``found`` (a path), or skip the test saying what is missing; under CI, fail instead."""
    if found:
        return found
    message = f"{what} is not installed"
    if in_ci():
        pytest.fail(f"{message}, and CI must not skip a consumer", pytrace=False)
    pytest.skip(message)


def need_program(*names: str, what: str) -> str:
    return need(next((path for path in map(shutil.which, names) if path), None), what)


@dataclass(frozen=True)
class Outputs:
    """Report files by run name (``pass``, ``warn``, ``fail``, ``full``, ``unconfigured``) and suffix."""

    folder: Path
    exit_codes: dict[str, int]
    fleet_html: Path
    lab: Lab

    def file(self, run: str, suffix: str) -> Path:
        return self.folder / f"{run}{suffix}"

    @property
    def runs(self) -> list[str]:
        return list(self.exit_codes)


def _outputs(run: str, folder: Path) -> list[str]:
    return [item for suffix in SUFFIXES for item in ("-o", str(folder / f"{run}{suffix}"))]


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outputs]:
    folder = Path(tmp_path_factory.mktemp("real-output"))
    with lab(folder / "lab") as here:
        exit_codes: dict[str, int] = {}
        commands = {scenario: check_args(here, scenario) for scenario in SCENARIOS}
        # Every check, as on a real host (truststore, OneAgent, container, local ingest endpoint...).
        commands["full"] = check_args(here, "pass", only=None)
        commands["unconfigured"] = ["check"]
        for run, args in commands.items():
            completed = run_args([*args, *_outputs(run, folder)])
            assert completed.returncode in (0, 1, 2, 3), completed.stderr
            assert "Traceback" not in completed.stderr
            exit_codes[run] = completed.returncode
        for scenario in SCENARIOS:
            assert exit_codes[scenario] == EXPECTED_EXIT[scenario], (scenario, exit_codes)
        fleet = folder / "fleet.html"
        merged = run_args(["merge", "--host-from", "file", *(str(folder / f"{run}.json") for run in exit_codes),
                           "-o", str(fleet), "-o", str(folder / "fleet.json")])
        assert merged.returncode in (0, 1, 2, 3) and fleet.exists(), merged.stderr
        yield Outputs(folder, exit_codes, fleet, here)
