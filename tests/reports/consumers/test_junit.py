"""JUnit: the upstream Jenkins xunit schema and junitparser read the real runs' XML."""

from __future__ import annotations

import importlib.util
import json

import xmlschema

from tests.reports.consumers.conftest import need
from tests.reports.test_junit import SCHEMA


def test_every_file_is_valid_against_the_upstream_schema(outputs):
    schema = xmlschema.XMLSchema(str(SCHEMA))
    for run in outputs.runs:
        schema.validate(str(outputs.file(run, ".xml")))


def test_junitparser_reads_what_the_json_report_says(outputs):
    need(importlib.util.find_spec("junitparser") and "junitparser", "junitparser (PyPI)")
    import junitparser

    for run in outputs.runs:
        report = json.loads(outputs.file(run, ".json").read_text())
        xml = junitparser.JUnitXml.fromfile(str(outputs.file(run, ".xml")))
        cases = [case for suite in xml for case in suite]
        assert len(cases) == len(report["checks"]), run
        outcome = {"fail": junitparser.Failure, "error": junitparser.Error, "skip": junitparser.Skipped}
        for case, check in zip(cases, report["checks"]):
            kinds = [type(item) for item in case.result]
            wanted = outcome.get(check["status"])
            assert kinds == ([wanted] if wanted else []), (run, check["id"], kinds)
            if wanted is not None:
                assert case.result[0].message == check["summary"]
        assert sum(suite.failures for suite in xml) == report["counts"]["fail"]
        assert sum(suite.skipped for suite in xml) == report["counts"]["skip"]
