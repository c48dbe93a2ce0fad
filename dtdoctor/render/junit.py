"""JUnit XML for CI servers (Jenkins, GitLab): a testsuite per family, a testcase per result.

fail becomes ``<failure>``, error ``<error>``, skip ``<skipped>``; a warning
passes but carries its message in ``<system-out>``. The element order and
attributes follow the JUnit schema Jenkins and GitLab read (``junit-10.xsd``
of Jenkins' xunit plugin). Timestamps are UTC without a zone suffix, as that
schema's pattern wants.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from dtdoctor.core.model import CheckResult, Report, Status
from dtdoctor.render import RenderOptions

# Characters XML 1.0 cannot carry at all; a server's answer may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def xml_text(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def seconds(milliseconds: float) -> str:
    return f"{milliseconds / 1000:.3f}"


def testcase_name(result: CheckResult) -> str:
    return result.id if result.target in ("-", "") else f"{result.id} {result.target}"


def body(result: CheckResult) -> str:
    """What a CI server shows under a failing testcase: summary, fix, evidence."""
    parts = [f"[{result.code}] {result.summary}"]
    if result.remediation:
        parts.append(f"How to fix it: {result.remediation}")
    if result.details:
        parts.append("Details: " + json.dumps(dict(result.details), indent=2, ensure_ascii=False, default=str))
    if result.traceback:
        parts.append(result.traceback)
    return xml_text("\n".join(parts))


def testcase(suite: ET.Element, result: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "name": xml_text(testcase_name(result)),
            "classname": xml_text(result.family),
            "time": seconds(result.duration_ms),
        },
    )
    message = xml_text(result.summary)
    if result.status is Status.SKIP:
        ET.SubElement(case, "skipped", {"message": message})
    elif result.status is Status.ERROR:
        ET.SubElement(case, "error", {"message": message, "type": xml_text(result.code)}).text = body(result)
    elif result.status is Status.FAIL:
        ET.SubElement(case, "failure", {"message": message, "type": xml_text(result.code)}).text = body(result)
    elif result.status is Status.WARN:
        ET.SubElement(case, "system-out").text = "WARNING " + body(result)
    else:
        ET.SubElement(case, "system-out").text = xml_text(f"[{result.code}] {result.summary}")


def render(report: Report, options: RenderOptions) -> str:
    counts = report.counts
    root = ET.Element(
        "testsuites",
        {
            "name": "dtdoctor",
            "tests": str(len(report.checks)),
            "failures": str(counts["fail"]),
            "errors": str(counts["error"]),
            "time": seconds(report.duration_ms),
        },
    )
    shared = _suite_attributes(report)
    families: dict[str, list[CheckResult]] = {}
    for result in report.checks:
        families.setdefault(result.family, []).append(result)
    for index, (family, results) in enumerate(families.items()):
        suite = ET.SubElement(root, "testsuite", _family_attributes(family, results, index, shared))
        for result in results:
            testcase(suite, result)
    ET.indent(root)  # readable in a CI artefact viewer and in diffs
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite_attributes(report: Report) -> dict[str, str]:
    """The timestamp (when the schema's form allows it) and host name every suite carries."""
    timestamp = report.generated_at.rstrip("Z")
    shared = {"timestamp": timestamp} if _TIMESTAMP.fullmatch(timestamp) else {}
    shared["hostname"] = xml_text(report.host.get("hostname") or "localhost")
    return shared


def _family_attributes(family: str, results: list[CheckResult], index: int, shared: dict[str, str]) -> dict[str, str]:
    """One family's test suite: its tallies, the report's timestamp and host, its position."""
    return {
        "name": xml_text(family),
        "tests": str(len(results)),
        "failures": str(sum(r.status is Status.FAIL for r in results)),
        "errors": str(sum(r.status is Status.ERROR for r in results)),
        "skipped": str(sum(r.status is Status.SKIP for r in results)),
        "time": seconds(sum(r.duration_ms for r in results)),
        **shared,
        "id": str(index),
        "package": "dtdoctor",
    }
