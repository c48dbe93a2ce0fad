"""Schedule probes concurrently, enforce deadlines and prerequisites, contain crashes.

Every probe runs in its own daemon thread as soon as the results it requires
are in. Blocking operations carry their own timeouts (sockets, HTTP); the
runner's limits are the backstop: a probe that overruns ``budget * timeout``
plus a grace second becomes a ``check.deadline`` error and its thread is
abandoned (daemon threads never hold up the exit). A probe that raises
becomes a ``check.crashed`` error for that probe alone.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

from dtdoctor.checks.base import Check, Finding, Probe, ProbeContext, ResultKey
from dtdoctor.core.codes import RUNNER_CODES, Code, all_codes
from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult, Status
from dtdoctor.net.untrusted import bounded

GRACE_SECONDS = 1.0
# Statuses of a prerequisite that let dependent probes run.
_USABLE = (Status.PASS, Status.WARN)


@dataclass(frozen=True)
class Task:
    check: Check
    probe: Probe

    @property
    def key(self) -> ResultKey:
        return (self.check.id, self.probe.target)


# Called with (event, key, result-or-None); event is "start" or "done".
ProgressCallback = Callable[[str, ResultKey, "CheckResult | None"], None]


def select_checks(checks: Sequence[Check], only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[Check]:
    """Apply ``--only``/``--skip``; a selector matches an id or a family prefix."""
    only_list, skip_list = list(only), list(skip)

    def matches(check_id: str, selector: str) -> bool:
        return check_id == selector or check_id.startswith(selector + ".")

    chosen = [c for c in checks if not only_list or any(matches(c.id, s) for s in only_list)]
    return [c for c in chosen if not any(matches(c.id, s) for s in skip_list)]


def unknown_selectors(checks: Sequence[Check], selectors: Iterable[str]) -> list[str]:
    ids = [c.id for c in checks]
    return [s for s in selectors if not any(i == s or i.startswith(s + ".") for i in ids)]


def plan(checks: Sequence[Check], ctx: RunContext) -> list[Task]:
    tasks: list[Task] = []
    seen: set[ResultKey] = set()
    for check in checks:
        for probe in check.plan(ctx):
            task = Task(check, probe)
            if task.key in seen:
                raise ValueError(f"check {check.id} planned target {probe.target} twice")
            seen.add(task.key)
            tasks.append(task)
    return tasks


def run_checks(
    checks: Sequence[Check],
    ctx: RunContext,
    progress: ProgressCallback | None = None,
    deadline: float | None = None,
) -> list[CheckResult]:
    """Run every check's probes and return the results in plan order."""
    return Runner(checks, ctx, progress, deadline).run()


class Runner:
    def __init__(
        self,
        checks: Sequence[Check],
        ctx: RunContext,
        progress: ProgressCallback | None = None,
        deadline: float | None = None,
    ) -> None:
        self.ctx = ctx
        self.tasks = plan(checks, ctx)
        self.codes: Mapping[str, Code] = all_codes()
        self.progress: ProgressCallback = progress or (lambda event, key, result: None)
        self.planned = {task.key for task in self.tasks}
        # Backstop for the whole run: the longest chain of probes, each at its limit.
        self.deadline = deadline if deadline is not None else self._default_deadline()

    def _limit(self, probe: Probe) -> float:
        return probe.budget * self.ctx.timeout + GRACE_SECONDS

    def _default_deadline(self) -> float:
        by_key = {task.key: task for task in self.tasks}
        memo: dict[ResultKey, float] = {}

        def chain(key: ResultKey) -> float:
            if key not in memo:
                memo[key] = 0.0  # breaks accidental cycles
                task = by_key[key]
                awaited = task.probe.requires + task.probe.after
                before = [chain(req) for req in awaited if req in by_key]
                memo[key] = self._limit(task.probe) + max(before, default=0.0)
            return memo[key]

        return max((chain(key) for key in by_key), default=0.0) + GRACE_SECONDS

    def run(self) -> list[CheckResult]:
        results: dict[ResultKey, CheckResult] = {}
        waiting = list(self.tasks)
        running: dict[ResultKey, tuple[Task, float]] = {}  # key -> (task, started)
        done: queue.Queue[tuple[ResultKey, CheckResult]] = queue.Queue()
        run_start = self.ctx.started
        hard_stop = time.monotonic() + self.deadline

        while waiting or running:
            waiting = self._start_ready(waiting, results, running, done, run_start)
            if not running:
                if waiting:  # requirements that can never be met (a cycle)
                    for task in waiting:
                        first = (task.probe.requires + task.probe.after)[0]
                        results[task.key] = self._skipped(task, first, None, run_start)
                    waiting = []
                break
            now = time.monotonic()
            next_limit = min(started + self._limit(task.probe) for task, started in running.values())
            try:
                key, result = done.get(timeout=max(0.0, min(next_limit, hard_stop) - now))
                if key in running:
                    del running[key]
                    results[key] = result
                    self.progress("done", key, result)
            except queue.Empty:
                now = time.monotonic()
                for key, (task, started) in list(running.items()):
                    if now >= started + self._limit(task.probe) or now >= hard_stop:
                        del running[key]
                        results[key] = self._overran(task, started, now, run_start)
                        self.progress("done", key, results[key])
        return [results[task.key] for task in self.tasks if task.key in results]

    def _start_ready(
        self,
        waiting: list[Task],
        results: dict[ResultKey, CheckResult],
        running: dict[ResultKey, tuple[Task, float]],
        done: queue.Queue[tuple[ResultKey, CheckResult]],
        run_start: float,
    ) -> list[Task]:
        still_waiting: list[Task] = []
        progressed = True
        while progressed:
            progressed = False
            still_waiting = []
            for task in waiting:
                requires = [req for req in task.probe.requires if req in self.planned]
                awaited = requires + [key for key in task.probe.after if key in self.planned]
                if any(req not in results for req in awaited):
                    still_waiting.append(task)
                    continue
                blocker = next((req for req in requires if results[req].status not in _USABLE), None)
                if blocker is not None:
                    results[task.key] = self._skipped(task, blocker, results[blocker], run_start)
                    self.progress("done", task.key, results[task.key])
                    progressed = True  # a skip may settle others' requirements
                    continue
                prior = {key: results[key] for key in awaited}
                running[task.key] = (task, time.monotonic())
                self.progress("start", task.key, None)
                thread = threading.Thread(
                    target=self._execute,
                    args=(task, ProbeContext(self.ctx, prior), done, run_start),
                    name=f"dtdoctor-{task.check.id}-{task.probe.target}",
                    daemon=True,
                )
                thread.start()
            waiting = still_waiting
        return still_waiting

    def _execute(
        self,
        task: Task,
        probe_ctx: ProbeContext,
        done: queue.Queue[tuple[ResultKey, CheckResult]],
        run_start: float,
    ) -> None:
        started = time.monotonic()
        try:
            finding = task.probe.run(probe_ctx)
            result = self._result(task, finding, started, time.monotonic(), run_start)
        except BaseException as exc:  # a crashing check must not end the run
            code = RUNNER_CODES["check.crashed"]
            result = self._result(
                task,
                Finding(code.code, f"the check crashed: {type(exc).__name__}: {exc}"),
                started,
                time.monotonic(),
                run_start,
                trace=traceback.format_exc(),
            )
        done.put((task.key, result))

    def _result(
        self,
        task: Task,
        finding: Finding,
        started: float,
        ended: float,
        run_start: float,
        trace: str = "",
    ) -> CheckResult:
        code = self.codes.get(finding.code)
        if code is None:
            raise KeyError(f"check {task.check.id} reported unregistered code {finding.code}")
        remediation = finding.remediation if finding.remediation is not None else code.remediation
        return CheckResult(
            id=task.check.id,
            target=task.probe.target,
            title=task.check.title,
            status=finding.status or code.status,
            code=finding.code,
            summary=finding.summary,
            remediation=remediation,
            details=bounded(dict(finding.details)),  # evidence may be a server's deeply nested JSON
            duration_ms=round((ended - started) * 1000),
            depends_on=task.check.depends_on,
            started_ms=round((started - run_start) * 1000),
            traceback=trace,
        )

    def _skipped(
        self, task: Task, blocker: ResultKey, blocker_result: CheckResult | None, run_start: float
    ) -> CheckResult:
        check_id, target = blocker
        what = f"{check_id} {target}" if target not in ("-", "") else check_id
        if blocker_result is None:
            reason = f"skipped: {what} never ran"
        elif blocker_result.status is Status.SKIP:
            reason = f"skipped: {what} was skipped ({blocker_result.code})"
        else:
            reason = f"skipped: {what} failed ({blocker_result.code})"
        now = time.monotonic()
        return self._result(
            task,
            Finding("prerequisite.failed", reason, {"prerequisite": {"id": check_id, "target": target}}),
            now,
            now,
            run_start,
        )

    def _overran(self, task: Task, started: float, now: float, run_start: float) -> CheckResult:
        limit = self._limit(task.probe)
        return self._result(
            task,
            Finding(
                "check.deadline",
                f"did not finish within {min(limit, now - started):.1f} s",
                {"limit_s": round(limit, 2)},
            ),
            started,
            now,
            run_start,
        )
