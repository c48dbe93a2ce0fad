"""Schedule probes concurrently, enforce deadlines and prerequisites, contain crashes.

Every probe runs in its own daemon thread as soon as the results it waits for
are in: its ``requires`` and ``after`` that are part of this run's plan. Its
``prepare`` (work that waits for nothing) starts with the run. A check whose
plan waits on the host (``Check.plan_waits``: a program asked for the port its
target names) is planned in a thread of its own once the run has started; only
probes that name that check wait for its plan. Those
are the one dependency graph: the result's ``depends_on`` lists the check ids
of exactly the results the runner waited for (``Runner.waited`` keeps them per
result), and the facts those probes found are handed on with their results.

Blocking operations carry their own timeouts (sockets, HTTP); the runner's
limits are the backstop: a probe that overruns ``budget * timeout`` plus a
grace second becomes a ``check.deadline`` error and its thread is abandoned
(daemon threads never hold up the exit). Past the run's own backstop nothing
starts: a probe still waiting then (for a plan given up, or a result that came
too late) is a ``check.deadline`` error without running, and so is a check
whose plan never came in. A probe that raises becomes a
``check.crashed`` error for that probe alone, and so does one that reports a
code its check does not declare, or a status its code does not declare.
When the run ends, every fact that holds something (an open connection no
probe took over) is released.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from dtdoctor.checks.base import Check, Finding, Preparation, Probe, ProbeContext, ResultKey
from dtdoctor.core.codes import RUNNER_CODES, Code, code_table, word
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


def _never_started(_: ProbeContext) -> Finding:
    """The probe of a check whose plan was given up: it holds that check's place in the report, never runs."""
    raise RuntimeError("a check that was never planned has no probe to run")


# Called with (event, key, result-or-None); event is "start" or "done", or "planned" for a probe planned
# once the run had started (a check whose plan waits on the host).
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


@dataclass(frozen=True)
class Planned:
    """A check whose plan waited on the host, planned: its tasks, or what its plan raised."""

    check: Check
    tasks: list[Task]
    error: BaseException | None = None


# What the runner waits for: a probe's (key, result, fact), or a late check's plan.
Message = Union["tuple[ResultKey, CheckResult, Any]", Planned]


def split_by_plan(checks: Sequence[Check]) -> tuple[list[Check], list[Check]]:
    """The checks planned before the run starts, and those planned once it has (in a thread of their own)."""
    return [check for check in checks if not check.plan_waits], [check for check in checks if check.plan_waits]


def release(fact: Any) -> None:
    """Free what a fact holds (an open connection no probe took), once no probe can read it any more."""
    releasing = getattr(fact, "release", None)
    if callable(releasing):
        releasing()


def kept_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A finding's details as the result keeps them: without the names only its wording uses."""
    return {name: value for name, value in details.items() if not name.startswith("_")}


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
        first, self.late = split_by_plan(checks)
        self.tasks = plan(first, ctx)
        self.unplanned = {check.id for check in self.late}
        self._order = {check.id: index for index, check in enumerate(checks)}
        # Built from the checks given, so a code defined twice among them is refused up front.
        self.codes: Mapping[str, Code] = code_table(check.codes for check in checks)
        self.progress: ProgressCallback = progress or (lambda event, key, result: None)
        self.planned = {task.key for task in self.tasks}
        # What each result waited for, recorded when the runner started (or skipped) its probe.
        self.waited: dict[ResultKey, tuple[ResultKey, ...]] = {}
        self.facts: dict[ResultKey, Any] = {}
        self.preparations: dict[ResultKey, Preparation] = {}
        self._preparing = threading.Lock()  # the runner and the thread that starts the preparations
        self._preparations_started = False
        # Backstop for the whole run: the longest chain of probes, each at its limit.
        self._given_deadline = deadline
        self.deadline = deadline if deadline is not None else self._default_deadline()
        self._hard_stop = 0.0

    def _limit(self, probe: Probe) -> float:
        return probe.budget * self.ctx.timeout + GRACE_SECONDS

    def _names_unplanned(self, task: Task) -> bool:
        """The probe names a check whose plan is not in yet: what it waits for is not known yet."""
        return any(check_id in self.unplanned for check_id, _ in (*task.probe.requires, *task.probe.after))

    def awaited(self, task: Task) -> tuple[ResultKey, ...]:
        """The results a probe waits for: its ``requires``, then its ``after``, that are planned."""
        keys = (*task.probe.requires, *task.probe.after)
        return tuple(dict.fromkeys(key for key in keys if key in self.planned))

    def _default_deadline(self) -> float:
        by_key = {task.key: task for task in self.tasks}
        memo: dict[ResultKey, float] = {}

        def chain(key: ResultKey) -> float:
            if key not in memo:
                memo[key] = 0.0  # breaks accidental cycles
                task = by_key[key]
                before = [chain(req) for req in self.awaited(task)]
                memo[key] = self._limit(task.probe) + max(before, default=0.0)
            return memo[key]

        # A plan that waits on the host asks it within one timeout (oneagentctl); the plans are made one
        # after another. Its probes' own chain extends the backstop once the plan is in.
        planning = len(self.unplanned) * self.ctx.timeout
        return max(max((chain(key) for key in by_key), default=0.0), planning) + GRACE_SECONDS

    def run(self) -> list[CheckResult]:
        results: dict[ResultKey, CheckResult] = {}
        waiting = list(self.tasks)
        running: dict[ResultKey, tuple[Task, float]] = {}  # key -> (task, started)
        done: queue.Queue[Message] = queue.Queue()
        self._hard_stop = time.monotonic() + self.deadline
        sys.audit("dtdoctor.run.start", len(self.tasks))  # for observers such as bench/phases.py; free without one
        self._start_late_plans(done)
        while waiting or running or self.unplanned:
            waiting = self._start_ready(waiting, results, running, done)
            if not running and not self.unplanned:
                self._skip_unreachable(waiting, results)
                break
            if done.empty():
                self._prepare()
            self._collect(results, running, done, waiting)
        sys.audit("dtdoctor.run.end", len(results))
        for fact in self.facts.values():
            release(fact)
        return [results[task.key] for task in self.tasks if task.key in results]

    def _prepare(self) -> None:
        """Start every probe's ``prepare`` (it waits for no result), once: when the runner first has nothing to do.

        By then every probe that could start has started: DNS and TCP are in their first syscalls before
        the preparations (CPU-bound: reading trust stores) compete with them for the interpreter. One
        thread starts them, so the runner goes on handing results on meanwhile: a thread's start waits
        for the new thread to run, which costs a few ms each while others hold the interpreter.
        """
        if not self._preparations_started:
            self._preparations_started = True
            threading.Thread(target=self._start_preparations, name="dtdoctor-prepare", daemon=True).start()

    def _start_preparations(self) -> None:
        for task in self.tasks:  # the list of the moment: a late plan replaces it, never changes it
            self._preparation(task)

    def _start_late_plans(self, done: queue.Queue[Message]) -> None:
        if self.late:
            threading.Thread(target=self._plan_late, args=(done,), name="dtdoctor-plan", daemon=True).start()

    def _plan_late(self, done: queue.Queue[Message]) -> None:
        for check in self.late:
            try:
                done.put(Planned(check, plan([check], self.ctx)))
            except BaseException as exc:  # raised by the runner, as a plan's error always was
                done.put(Planned(check, [], exc))

    def _planned(self, planned: Planned, waiting: list[Task]) -> None:
        """A late check's probes join the run: in report order, waited for, prepared, within the deadline."""
        if planned.error is not None:
            raise planned.error
        self.tasks = sorted([*self.tasks, *planned.tasks], key=lambda task: self._order[task.check.id])
        self.planned.update(task.key for task in planned.tasks)
        self.unplanned.discard(planned.check.id)
        waiting.extend(planned.tasks)
        for task in planned.tasks:
            self.progress("planned", task.key, None)
            if self._preparations_started:
                self._preparation(task)
        if self._given_deadline is None:
            self.deadline = self._default_deadline()
            self._hard_stop = max(self._hard_stop, time.monotonic() + self.deadline)

    def _give_up_plans(self, results: dict[ResultKey, CheckResult], now: float) -> None:
        """A plan still out past the run's backstop is given up: its check reports that, on no target."""
        for check in self.late:
            if check.id in self.unplanned:
                task = Task(check, Probe("-", _never_started))
                self.tasks = sorted([*self.tasks, task], key=lambda known: self._order[known.check.id])
                summary = f"not checked: its plan, which asks the host, did not finish within {self.deadline:.1f} s"
                finding = Finding("check.deadline", summary, {"limit_s": round(self.deadline, 2)})
                results[task.key] = self._result(task, finding, now, now)
                self.progress("planned", task.key, None)  # counted, as a late probe is, then done
                self.progress("done", task.key, results[task.key])
        self.unplanned.clear()

    def _preparation(self, task: Task) -> Preparation | None:
        """The probe's preparation, started now unless it already was (a probe launched first starts its own)."""
        work = task.probe.prepare
        with self._preparing:
            if work is not None and task.key not in self.preparations:
                name = f"dtdoctor-prepare-{task.check.id}-{task.probe.target}"
                self.preparations[task.key] = Preparation(functools.partial(work, self.ctx), name)
            return self.preparations.get(task.key)

    def _skip_unreachable(self, waiting: list[Task], results: dict[ResultKey, CheckResult]) -> None:
        """Requirements that can never be met (a cycle): skip naming the first one."""
        for task in waiting:
            awaited = self.awaited(task)
            self.waited[task.key] = awaited
            results[task.key] = self._skipped(task, awaited[0], None)

    def _collect(
        self,
        results: dict[ResultKey, CheckResult],
        running: dict[ResultKey, tuple[Task, float]],
        done: queue.Queue[Message],
        waiting: list[Task],
    ) -> None:
        """Wait for the next probe to finish (or a late plan), or end those past their limit."""
        now, hard_stop = time.monotonic(), self._hard_stop
        next_limit = min((started + self._limit(task.probe) for task, started in running.values()), default=hard_stop)
        try:
            message = done.get(timeout=max(0.0, min(next_limit, hard_stop) - now))
        except queue.Empty:
            now = time.monotonic()
            if now >= hard_stop:
                self._give_up_plans(results, now)
            for key, (task, started) in list(running.items()):
                if now >= started + self._limit(task.probe) or now >= hard_stop:
                    del running[key]
                    results[key] = self._overran(task, started, now)
                    self.progress("done", key, results[key])
            return
        if isinstance(message, Planned):
            self._planned(message, waiting)
            return
        key, result, fact = message
        if key not in running:  # an abandoned probe that finished late is ignored
            release(fact)
            return
        del running[key]
        results[key] = result
        if fact is not None:
            self.facts[key] = fact
        self.progress("done", key, result)

    def _start_ready(
        self,
        waiting: list[Task],
        results: dict[ResultKey, CheckResult],
        running: dict[ResultKey, tuple[Task, float]],
        done: queue.Queue[Message],
    ) -> list[Task]:
        progressed = True
        while progressed:
            progressed = False
            still_waiting: list[Task] = []
            for task in waiting:
                awaited = self.awaited(task)
                if self._names_unplanned(task) or any(key not in results for key in awaited):
                    still_waiting.append(task)
                    continue
                self.waited[task.key] = awaited
                blocker = self._blocker(task, results)
                if blocker is not None:
                    results[task.key] = self._skipped(task, blocker, results[blocker])
                    self.progress("done", task.key, results[task.key])
                    progressed = True  # a skip may settle others' requirements
                    continue
                if time.monotonic() >= self._hard_stop:  # nothing starts past the backstop: it would be ended at once
                    results[task.key] = self._too_late(task)
                    self.progress("done", task.key, results[task.key])
                    progressed = True
                    continue
                self._launch(task, awaited, results, running, done)
            waiting = still_waiting
        return waiting

    def _blocker(self, task: Task, results: Mapping[ResultKey, CheckResult]) -> ResultKey | None:
        """The first required result that did not pass (``after`` results never block)."""
        required = (key for key in task.probe.requires if key in self.planned)
        return next((key for key in required if results[key].status not in _USABLE), None)

    def _launch(
        self,
        task: Task,
        awaited: tuple[ResultKey, ...],
        results: Mapping[ResultKey, CheckResult],
        running: dict[ResultKey, tuple[Task, float]],
        done: queue.Queue[Message],
    ) -> None:
        prior = {key: results[key] for key in awaited}
        facts = {key: self.facts[key] for key in awaited if key in self.facts}
        running[task.key] = (task, time.monotonic())
        self.progress("start", task.key, None)
        thread = threading.Thread(
            target=self._execute,
            args=(task, ProbeContext(self.ctx, prior, facts, self._preparation(task)), done),
            name=f"dtdoctor-{task.check.id}-{task.probe.target}",
            daemon=True,
        )
        thread.start()

    def _execute(
        self, task: Task, probe_ctx: ProbeContext, done: queue.Queue[Message]
    ) -> None:
        started = time.monotonic()
        fact: Any = None
        try:
            finding = task.probe.run(probe_ctx)
            fact = finding.fact
            result = self._result(task, finding, started, time.monotonic())
        except BaseException as exc:  # a crashing check must not end the run
            fact = None
            crash = Finding("check.crashed", f"the check crashed: {type(exc).__name__}: {exc}")
            result = self._result(task, crash, started, time.monotonic(), trace=traceback.format_exc())
        done.put((task.key, result, fact))

    def _code(self, task: Task, name: str) -> Code:
        code = task.check.codes.get(name) or RUNNER_CODES.get(name)
        if code is None:
            raise KeyError(f"check {task.check.id} reported {name}, a code it does not declare")
        return code

    def _result(self, task: Task, finding: Finding, started: float, ended: float, trace: str = "") -> CheckResult:
        code = self._code(task, finding.code)
        summary, remediation = word(code, finding.summary, finding.remediation, finding.details)
        awaited = self.waited.get(task.key, ())
        return CheckResult(
            id=task.check.id,
            target=task.probe.target,
            title=task.check.title,
            status=code.status_for(finding.status),
            code=finding.code,
            summary=summary,
            remediation=remediation,
            details=bounded(kept_details(finding.details)),  # evidence may be a server's deeply nested JSON
            duration_ms=round((ended - started) * 1000),
            depends_on=tuple(dict.fromkeys(check_id for check_id, _ in awaited)),
            started_ms=round((started - self.ctx.started) * 1000),
            traceback=trace,
            evidence=finding.evidence,
        )

    def _skipped(self, task: Task, blocker: ResultKey, blocker_result: CheckResult | None) -> CheckResult:
        check_id, target = blocker
        what = f"{check_id} {target}" if target not in ("-", "") else check_id
        if blocker_result is None:
            reason = f"skipped: {what} never ran"
        elif blocker_result.code == "prerequisite.failed":
            reason = blocker_result.summary  # the failure that started the chain, not the skip in between
        elif blocker_result.status is Status.SKIP:
            reason = f"skipped: {what} was skipped ({blocker_result.code})"
        else:
            reason = f"skipped: {what} failed ({blocker_result.code})"
        now = time.monotonic()
        prerequisite = {"prerequisite": {"id": check_id, "target": target}}
        return self._result(task, Finding("prerequisite.failed", reason, prerequisite), now, now)

    def _too_late(self, task: Task) -> CheckResult:
        now = time.monotonic()
        summary = f"did not start: the run reached its {self.deadline:.1f} s deadline first"
        return self._result(task, Finding("check.deadline", summary, {"limit_s": round(self.deadline, 2)}), now, now)

    def _overran(self, task: Task, started: float, now: float) -> CheckResult:
        limit = self._limit(task.probe)
        summary = f"did not finish within {min(limit, now - started):.1f} s"
        return self._result(task, Finding("check.deadline", summary, {"limit_s": round(limit, 2)}), started, now)
