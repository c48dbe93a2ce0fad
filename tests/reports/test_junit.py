"""JUnit XML: valid against the schema CI servers read, one testsuite per family."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from dtdoctor.render import render
from tests.support import samples
from tests.support.reports import hostile_report

# Jenkins xunit plugin's schema, byte for byte (source and licence in upstream/README.md).
SCHEMA = Path(__file__).parent / "upstream" / "junit-10.xsd"
SCHEMA_SHA256 = "a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6"


def test_the_schema_is_the_unchanged_upstream_file():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA))


@pytest.mark.parametrize("build", [samples.healthy, samples.broken, hostile_report, samples.many_results])
def test_valid_against_the_junit_schema(schema, build):
    text = render(build(), "junit")
    schema.validate(text)


def test_structure_counts_and_outcomes():
    sample = samples.broken()
    root = ET.fromstring(render(sample, "junit"))
    assert root.tag == "testsuites"
    assert root.get("tests") == str(len(sample.checks))
    assert root.get("failures") == str(sample.counts["fail"]) and root.get("errors") == "0"
    assert root.get("time") == "5.011"
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == list(dict.fromkeys(item.family for item in sample.checks))
    tcp = suites["tcp"]
    assert tcp.get("tests") == "2" and tcp.get("failures") == "1" and tcp.get("timestamp") == "2026-11-22T10:00:00"
    cases = {case.get("name"): case for case in root.iter("testcase")}
    timeout = cases["tcp ag-01.corp.example.com:9999"]
    assert timeout.get("classname") == "tcp" and timeout.get("time") == "5.002"
    failure = timeout.find("failure")
    assert failure is not None and failure.get("type") == "tcp.timeout"
    assert "Open port 9999" in failure.text and '"outcome": "timeout"' in failure.text
    skipped = cases["api abc12345.live.dynatrace.com"].find("skipped")
    assert skipped is not None and "did not pass" in skipped.get("message")
    warning = cases["truststore local"]
    assert warning.find("failure") is None and warning.find("skipped") is None
    assert "WARNING [truststore.stale]" in warning.find("system-out").text
    passed = cases["dns abc12345.live.dynatrace.com"]
    assert list(passed) == [passed.find("system-out")] and "dns.ok" in passed.find("system-out").text


def test_errors_carry_the_traceback_and_xml_breaking_text_is_made_safe():
    text = render(hostile_report(), "junit")
    root = ET.fromstring(text)  # NUL and BEL would make the file unparsable
    error = next(case for case in root.iter("testcase") if case.get("classname") == "api").find("error")
    assert error.get("type") == "check.crashed" and "Traceback" in error.text
    assert "\x00" not in text and "\x07" not in text
    assert '<script>alert("x")</script>' in error.get("message")  # escaped in the file, intact when read
