"""Running one check family against a context, for the tests in this folder."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from dtdoctor.core.context import RunContext
from dtdoctor.core.model import CheckResult
from dtdoctor.core.runner import run_checks
from tests.support.factories import context


def run(*modules: ModuleType, ctx: RunContext) -> list[CheckResult]:
    return run_checks([module.CHECK for module in modules], ctx)


def only(results: list[CheckResult], check_id: str, target: str | None = None) -> CheckResult:
    found = [r for r in results if r.id == check_id and (target is None or r.target == target)]
    assert len(found) == 1, [(r.id, r.target, r.code) for r in results]
    return found[0]


def ctx_for(url: str, **options: Any) -> RunContext:
    options.setdefault("timeout", 2.0)
    environ = options.pop("environ", {})
    return context(environ, url=url, **options)
