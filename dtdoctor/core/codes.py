"""Every result code: what it means, why it happens, how to fix it.

Each check module declares its own codes next to the logic that emits them
(adding a check touches its module and the registry, nothing else); this
module is the one place that gathers them, for ``dtdoctor explain`` and for
the default remediation of every result.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Mapping

from dtdoctor.core.model import Status


@dataclass(frozen=True)
class Code:
    """A stable result code.

    Attributes:
        code: the machine-readable name, ``<family>.<cause>``.
        status: the status a result with this code has unless the check says otherwise.
        meaning: one sentence: what the result says.
        causes: why it typically happens.
        remediation: what to do; empty for codes that need no action.
    """

    code: str
    status: Status
    meaning: str
    causes: str = ""
    remediation: str = ""


def codes(*items: Code) -> Mapping[str, Code]:
    """Index a check's codes by name, refusing duplicates."""
    table: dict[str, Code] = {}
    for item in items:
        if item.code in table:
            raise ValueError(f"duplicate result code {item.code}")
        table[item.code] = item
    return table


# Codes the runner itself emits, for any check.
RUNNER_CODES = codes(
    Code(
        "prerequisite.failed",
        Status.SKIP,
        "The check did not run because a check it needs did not pass.",
        "An earlier step (DNS, TCP, TLS ...) failed or was skipped, so this one cannot say anything useful.",
        "Fix the prerequisite named in the summary first, then run dtdoctor again.",
    ),
    Code(
        "check.crashed",
        Status.ERROR,
        "The check itself failed with an unexpected error, so its verdict is unknown.",
        "A bug in dtdoctor or an environment it does not handle.",
        "Run again with -v to see the traceback and attach the report (--bundle) to a ticket.",
    ),
    Code(
        "check.deadline",
        Status.ERROR,
        "The check did not finish within its time limit.",
        "Something blocked longer than the per-probe timeout allows (a resolver, a stalled peer).",
        "Run again with a larger --timeout; if it persists, attach the report (--bundle) to a ticket.",
    ),
    Code(
        "check.unsupported",
        Status.SKIP,
        "The check does not apply on this platform.",
        "It reads facts only this operating system does not offer.",
        "",
    ),
)


def all_codes() -> Mapping[str, Code]:
    """Every known code: the runner's and each registered check's."""
    from dtdoctor.checks import CHECKS

    table: dict[str, Code] = dict(RUNNER_CODES)
    for check in CHECKS:
        for name, code in check.codes.items():
            if name in table and table[name] != code:
                raise ValueError(f"result code {name} is defined twice")
            table[name] = code
    return table


def lookup(name: str) -> Code | None:
    return all_codes().get(name.strip().lower())


def closest(name: str, known: Iterable[str] | None = None, limit: int = 3) -> list[str]:
    """Known codes that look like ``name``, best first."""
    candidates = list(known if known is not None else all_codes())
    needle = name.strip().lower()
    found = difflib.get_close_matches(needle, candidates, n=limit, cutoff=0.5)
    if not found:
        family = needle.split(".", 1)[0]
        found = [c for c in candidates if c.startswith(family + ".")][:limit]
    return found
