"""``config.url`` on Latest Dynatrace apps URLs: the classic host is checked, and the result says so."""

from __future__ import annotations

import json

from dtdoctor.checks import config_url
from dtdoctor.config import parse_url
from dtdoctor.core.codes import word
from dtdoctor.core.model import Status
from tests.support.cli import invoke


def test_an_apps_url_is_a_warning_naming_the_classic_host():
    finding = config_url.judge(parse_url("https://abc12345.apps.dynatrace.com/ui/apps/dynatrace.dashboards"))
    assert finding.code == "url.apps_converted"
    code = config_url.CODES[finding.code]
    assert code.status is Status.WARN
    summary, remediation = word(code, finding.summary, finding.remediation, finding.details)
    assert "https://abc12345.live.dynatrace.com" in remediation
    assert summary.startswith("apps URL: the events API is served at https://abc12345.live.dynatrace.com")
    assert finding.details["converted_from"] == "abc12345.apps.dynatrace.com"
    assert finding.details["host"] == "abc12345.live.dynatrace.com"


def test_the_cli_checks_the_live_host_of_an_apps_url():
    for given, classic in (
        ("https://abc12345.apps.dynatrace.com", "abc12345.live.dynatrace.com"),
        ("https://abc12345.sprint.apps.dynatracelabs.com", "abc12345.sprint.dynatracelabs.com"),
    ):
        result = invoke("check", "--only", "config.url", "-f", "json", "-u", given, env={})
        report = json.loads(result.stdout)
        (check,) = report["checks"]
        assert (check["code"], check["status"], check["target"]) == ("url.apps_converted", "warn", classic)
        assert report["config"]["url"] == f"https://{classic}"
        assert result.exit_code == 1


def test_the_derived_host_is_where_the_token_may_go():
    from dtdoctor.net.http import may_send_token
    from tests.support.factories import CANARY_TOKEN, settings

    configured = settings({"DT_API_TOKEN": CANARY_TOKEN}, url="https://abc12345.apps.dynatrace.com")
    assert may_send_token(configured, "https://abc12345.live.dynatrace.com/api/v2/apiTokens/lookup")
    assert not may_send_token(configured, "https://abc12345.apps.dynatrace.com/api/v2/apiTokens/lookup")
