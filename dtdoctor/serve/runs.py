"""The latest run, rendered once, and the one thread that makes the runs: at start, then every interval."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

from dtdoctor.core.model import ExitCode, Report
from dtdoctor.redact import Redactor

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Snapshot:
    """What the pages show: one finished run, rendered and redacted once, or why a run could not start.

    ``exit_code`` is None before the first run ends. ``problem`` says why the
    latest run produced no report (an unusable configuration, say a token file
    that went away); then ``exit_code`` is 3 and the report pages are empty.
    """

    number: int = 0
    exit_code: int | None = None
    status: str = ""
    finished_at: str = ""
    metrics: str = ""
    report_json: str = ""
    html: str = ""
    problem: str = ""

    @property
    def healthy(self) -> bool:
        return self.exit_code == ExitCode.OK

    def health_text(self) -> str:
        if self.exit_code is None:
            return "starting: the first run has not finished yet\n"
        word = "ok" if self.healthy else "unhealthy"
        cause = self.problem or f"status {self.status}"
        return f"{word}: run {self.number} at {self.finished_at}: {cause}, exit {self.exit_code}\n"


def snapshot_of(report: Report, number: int, redactor: Redactor) -> Snapshot:
    from dtdoctor.render import RenderOptions, render

    options = RenderOptions()
    return Snapshot(
        number=number,
        exit_code=int(report.exit_code),
        status=report.status.value,
        finished_at=report.generated_at,
        metrics=redactor.scrub(render(report, "prometheus", options) + serve_metrics(number, 0)),
        report_json=redactor.scrub(render(report, "json", options)),
        html=redactor.scrub(render(report, "html", options), markup=True),
    )


def failed_snapshot(problem: str, number: int, redactor: Redactor) -> Snapshot:
    from dtdoctor.core.model import utc_timestamp
    from dtdoctor.core.report import utc_now

    problem = redactor.scrub(problem)
    metrics = (
        "# HELP dtdoctor_exit_code Exit code of the last run (0 ok, 1 warning, 2 critical, 3 unknown).\n"
        "# TYPE dtdoctor_exit_code gauge\n"
        f"dtdoctor_exit_code {int(ExitCode.UNKNOWN)}\n"
    )
    finished_at = utc_timestamp(utc_now())
    return Snapshot(number=number, exit_code=int(ExitCode.UNKNOWN), status="error", finished_at=finished_at,
                    metrics=metrics + serve_metrics(number, 1), problem=problem)


def serve_metrics(runs: int, run_failed: int) -> str:
    return (
        "# HELP dtdoctor_serve_runs_total Runs finished since dtdoctor serve started.\n"
        "# TYPE dtdoctor_serve_runs_total counter\n"
        f"dtdoctor_serve_runs_total {runs}\n"
        "# HELP dtdoctor_serve_run_failed 1 when the latest run could not start (configuration unusable).\n"
        "# TYPE dtdoctor_serve_run_failed gauge\n"
        f"dtdoctor_serve_run_failed {run_failed}\n"
    )


class Latest:
    """The newest snapshot, swapped whole under a lock: a page never mixes two runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot = Snapshot()

    def get(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def set(self, snapshot: Snapshot) -> None:
        with self._lock:
            self._snapshot = snapshot


class Scheduler:
    """Runs ``run_once`` at start and then every ``interval`` seconds (start to start) in one thread.

    ``run_once`` never raises: a run that cannot happen is a snapshot that says why.

    One thread makes every run, so two never overlap; a run longer than the
    interval is followed by the next at once. ``stop`` ends the waiting; a run
    in progress is abandoned with the process (its probe threads are daemons).
    """

    def __init__(self, run_once: Callable[[int], Snapshot], interval: float, latest: Latest,
                 stop: threading.Event, log: Callable[[str], None]) -> None:
        self.run_once = run_once
        self.interval = interval
        self.latest = latest
        self.stop = stop
        self.log = log
        self.thread = threading.Thread(target=self._loop, name="dtdoctor-runs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        number = 0
        while not self.stop.is_set():
            started = time.monotonic()
            number += 1
            snapshot = self.run_once(number)
            self.latest.set(snapshot)
            took = time.monotonic() - started
            cause = snapshot.problem or f"status {snapshot.status}"
            self.log(f"run {number} finished in {took:.1f}s: {cause}, exit {snapshot.exit_code}")
            self.stop.wait(max(0.0, self.interval - took))


def log_line(text: str) -> None:
    sys.stderr.write(f"dtdoctor serve: {text}\n")
    sys.stderr.flush()
