"""The result model's ordering and round trip, the console renderer, the progress line."""

from __future__ import annotations

import io
import json

from dtdoctor.core.model import ExitCode, Report, Status, exit_code_for, worst_status
from dtdoctor.render import RenderOptions, render
from dtdoctor.render.progress import ProgressLine
from tests.support.factories import report, result


def test_worst_status_and_exit_codes():
    assert worst_status([]) is Status.PASS
    assert worst_status([Status.PASS, Status.SKIP]) is Status.SKIP
    assert worst_status([Status.WARN, Status.ERROR, Status.FAIL]) is Status.ERROR
    assert exit_code_for(Status.SKIP) is ExitCode.OK
    assert exit_code_for(Status.WARN) is ExitCode.WARNING
    assert exit_code_for(Status.WARN, warn_ok=True) is ExitCode.OK
    assert exit_code_for(Status.FAIL, warn_ok=True) is ExitCode.CRITICAL
    assert exit_code_for(Status.ERROR) is ExitCode.UNKNOWN


def test_report_json_round_trip():
    original = report(result(), result("dns", "h", Status.WARN, "dns.ok", details={"ipv4": ["1.2.3.4"]}),
                      warn_ok=True)
    data = json.loads(json.dumps(original.to_json()))
    again = Report.from_json(data)
    assert again.to_json() == original.to_json()
    assert again.exit_code is ExitCode.OK


def test_console_groups_by_family_and_explains_problems():
    text = render(report(
        result("tcp", "a:443", Status.PASS, "tcp.open", "connected"),
        result("tcp", "b:443", Status.FAIL, "tcp.timeout", "no answer", remediation="open the firewall"),
        result("dns", "a", Status.PASS, "dns.ok", "resolved"),
    ), "console", RenderOptions())
    assert text.index("\ntcp\n") < text.index("\ndns\n")
    assert "✖ tcp b:443: no answer  [tcp.timeout]" in text
    assert "→ open the firewall" in text
    assert "3 checks: 2 pass, 0 warn, 1 fail, 0 skip, 0 error" in text and "exit 2" in text


def test_console_ascii_fallback_and_colour():
    plain = render(report(result(status=Status.FAIL, code="tcp.refused")), "console", RenderOptions(unicode=False))
    assert plain.isascii() and "XX tcp" in plain
    coloured = render(report(result()), "console", RenderOptions(color=True))
    assert "\x1b[32m✔" in coloured


def test_quiet_says_so_when_nothing_is_wrong():
    text = render(report(result()), "console", RenderOptions(verbosity=-1))
    assert "no problems found" in text and "tcp.open" not in text


def test_progress_line_redraws_and_clears():
    stream = io.StringIO()
    line = ProgressLine(stream, total=2)
    line("start", ("tcp", "a:443"), None)
    line("done", ("tcp", "a:443"), result())
    line.close()
    output = stream.getvalue()
    assert "running tcp a:443" in output and "1/2 done" in output
    assert output.endswith("\r\x1b[K")


def test_overall_status_of_a_run():
    from dtdoctor.core.model import overall_status

    assert overall_status([Status.PASS, Status.SKIP]) is Status.PASS
    assert overall_status([Status.SKIP, Status.SKIP]) is Status.SKIP
    assert overall_status([]) is Status.SKIP
    assert overall_status([Status.PASS, Status.SKIP, Status.WARN]) is Status.WARN


def test_skips_for_a_missing_setting_are_said_once():
    skipped = [result(check_id, "-", Status.SKIP, "url.missing", "skipped: no environment URL")
               for check_id in ("config.url", "dns", "tcp", "api")]
    text = render(report(*skipped), "console", RenderOptions())
    assert text.count("skipped: no environment URL") == 1  # config.url's own line
    assert "also skipped for the same reason (url.missing): dns, tcp, api" in text
    verbose = render(report(*skipped), "console", RenderOptions(verbosity=1))
    assert verbose.count("skipped: no environment URL") == 4
