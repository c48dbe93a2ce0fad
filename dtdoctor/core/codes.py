"""Every result code: what it means, why it happens, how to fix it, and its words.

Classify, then word: a check's judge returns a code and its evidence
(``Finding(code, details=evidence)``); the summary and remediation are
templates that belong to the code, filled from the evidence by ``word``. A
code has one status, or declares in ``when`` each other status a result may
carry and when; ``dtdoctor explain`` shows all of it.

Each check module defines its own codes next to the logic that emits them,
and each ``Check`` declares every code it may emit (its own, and the few it
borrows from another family, such as ``url.missing``). The runner builds its
table from the checks it is given (``code_table``); ``dtdoctor explain``
builds it from the registry. This module imports no check.
"""

from __future__ import annotations

import difflib
import string
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from dtdoctor.core.model import Status


@dataclass(frozen=True)
class Code:
    """A stable result code.

    Attributes:
        code: the machine-readable name, ``<family>.<cause>``.
        status: the status of a result with this code, unless ``when`` allows another.
        meaning: one sentence: what the result says.
        causes: why it typically happens.
        remediation: what to do; empty for codes that need no action. A template
            (``{name}`` is the evidence's ``name``, ``{name[key]}`` a key of it)
            when ``summary`` is one. Evidence whose name starts with ``_`` serves
            the wording only: the runner leaves it out of the result's details.
        summary: the template of a result's one-line summary, filled from its
            evidence; empty for codes whose checks still write their own line.
        when: every other status a result with this code may have, each with the
            condition that gives it (``{Status.WARN: "when ..."}``).
    """

    code: str
    status: Status
    meaning: str
    causes: str = ""
    remediation: str = ""
    summary: str = ""
    when: Mapping[Status, str] = field(default_factory=dict)

    @property
    def statuses(self) -> tuple[Status, ...]:
        """Every status a result with this code can have, the usual one first."""
        return (self.status, *self.when)

    def status_for(self, requested: Status | None) -> Status:
        """The status of a result: the code's, or one it declares in ``when``."""
        if requested is None:
            return self.status
        if requested not in self.statuses:
            raise ValueError(f"{self.code} is never {requested.value} (it can be: {_names(self.statuses)})")
        return requested

    @property
    def general_summary(self) -> str:
        """The summary template as read without evidence: each name shown as ``<name>``."""
        return _general(self.summary)

    @property
    def general_remediation(self) -> str:
        """The remediation as shown apart from any result (explain, the fleet page)."""
        return _general(self.remediation) if self.summary else self.remediation

    def fields(self) -> list[str]:
        """The evidence names the templates use, as a reader knows them (wording-only names lose their ``_``)."""
        found = []
        for template in (self.summary, self.remediation) if self.summary else ():
            found += [name.lstrip("_") for _, name, _, _ in string.Formatter().parse(template) if name]
        return list(dict.fromkeys(found))


def _general(template: str) -> str:
    """The template with each name as ``<name>``; a name glued to the text around it is a clause the evidence
    may add or leave out (``{_upstream}`` after a sentence's full stop), shown apart as ``[<name>]``."""
    parsed = list(string.Formatter().parse(template))
    text = ""
    for index, (literal, name, _, _) in enumerate(parsed):
        text += literal
        if name is None:
            continue
        following = parsed[index + 1][0] if index + 1 < len(parsed) else ""
        glued_after = bool(text) and not text[-1].isspace() and text[-1] not in _OPENERS
        glued_before = following[:1].isalnum()
        if glued_after or glued_before:
            text += (" " if glued_after else "") + f"[<{name.lstrip('_')}>]" + (" " if glued_before else "")
        else:
            text += f"<{name.lstrip('_')}>"
    return text


# What may stand right before a name that is a value, not a clause: an opening bracket or quote, a path's slash.
_OPENERS = "([\"'`/:="


def _names(statuses: Iterable[Status]) -> str:
    return ", ".join(status.value for status in statuses)


def word(code: Code, summary: str, remediation: str | None, evidence: Mapping[str, Any]) -> tuple[str, str]:
    """The summary and remediation of a result: the finding's own words, else the code's templates
    filled from the evidence. A code without a summary template needs the finding's summary."""
    if summary:
        return summary, remediation if remediation is not None else code.remediation
    if not code.summary:
        raise ValueError(f"{code.code} has no summary template, and the finding gave no summary")
    advice = remediation if remediation is not None else code.remediation.format_map(evidence)
    return code.summary.format_map(evidence), advice


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


def emits(*parts: Code | Mapping[str, Code]) -> Mapping[str, Code]:
    """The codes a check may emit: its own table plus single codes or tables it borrows."""
    table: dict[str, Code] = {}
    for part in parts:
        for item in part.values() if isinstance(part, Mapping) else (part,):
            if table.setdefault(item.code, item) is not item:
                raise ValueError(f"result code {item.code} is defined twice")
    return table


def subset(table: Mapping[str, Code], *names: str) -> Mapping[str, Code]:
    """Some codes of a table (what a shared helper of another family can emit)."""
    return {name: table[name] for name in names}


def code_table(tables: Iterable[Mapping[str, Code]]) -> Mapping[str, Code]:
    """One table from the runner's codes and every given check's; a code defined twice is refused."""
    return emits(RUNNER_CODES, *tables)


def lookup(name: str, table: Mapping[str, Code]) -> Code | None:
    return table.get(name.strip().lower())


def closest(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Known codes that look like ``name``, best first."""
    candidates = list(known)
    needle = name.strip().lower()
    found = difflib.get_close_matches(needle, candidates, n=limit, cutoff=0.5)
    if not found:
        family = needle.split(".", 1)[0]
        found = [c for c in candidates if c.startswith(family + ".")][:limit]
    return found
