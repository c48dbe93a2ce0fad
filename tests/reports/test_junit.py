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
    assert root.get("failures") == str(sample.counts["fail"]) == "3" and root.get("errors") == "0"
    assert float(root.get("time")) == sample.duration_ms / 1000
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == list(dict.fromkeys(item.family for item in sample.checks))
    api = suites["api"]
    assert api.get("tests") == "2" and api.get("failures") == "1"
    assert api.get("timestamp") == sample.generated_at.rstrip("Z")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    failing = next(item for item in sample.checks if item.code == "api.http_error")
    unavailable = cases[f"api {failing.target}"]
    assert unavailable.get("classname") == "api" and float(unavailable.get("time")) == failing.duration_ms / 1000
    failure = unavailable.find("failure")
    assert failure is not None and failure.get("type") == "api.http_error"
    assert "HTTP 503" in failure.text and '"status": 503' in failure.text  # the details, as evidence
    skipped = cases["oneagent"] if "oneagent" in cases else cases["oneagent local"]
    assert skipped.find("skipped") is not None and "not installed" in skipped.find("skipped").get("message")
    expiring = next(item for item in sample.checks if item.code == "tls.expiring_soon")
    warning = cases[f"tls {expiring.target}"]
    assert warning.find("failure") is None and warning.find("skipped") is None
    assert "WARNING [tls.expiring_soon]" in warning.find("system-out").text
    passed = cases["dns 127.0.0.1"]
    assert list(passed) == [passed.find("system-out")] and "dns.ok" in passed.find("system-out").text


def test_errors_carry_the_traceback_and_xml_breaking_text_is_made_safe():
    text = render(hostile_report(), "junit")
    root = ET.fromstring(text)  # NUL and BEL would make the file unparsable
    error = next(case for case in root.iter("testcase") if case.get("classname") == "api").find("error")
    assert error.get("type") == "check.crashed" and "Traceback" in error.text
    assert "\x00" not in text and "\x07" not in text
    assert '<script>alert("x")</script>' in error.get("message")  # escaped in the file, intact when read
