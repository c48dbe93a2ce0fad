"""The HTML report: self-contained, escaped, complete, small."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from dtdoctor.core.model import EXIT_MEANING, ExitCode, Report, Status
from dtdoctor.render import render
from tests.support import samples
from tests.support.factories import report, result
from tests.support.reports import HOSTILE, hostile_report, run_cli


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.open_stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> Collector:
    collector = Collector()
    collector.feed(page)
    collector.close()
    return collector


def test_hostile_strings_from_servers_and_certificates_are_escaped():
    page = render(hostile_report(), "html")
    parsed = parse(page)
    assert "script" not in parsed.tags
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    # The text survives (escaped), nothing is dropped: summary, traceback, certificate subject, detail key.
    text = "".join(parsed.text)
    assert 'chain ends at <script>alert("x")</script>' in text
    assert 'CN=<script>alert("x")</script>' in text
    assert "ValueError: <script>" in text
    assert 'key<script>alert("x")</script>' in text


def test_page_is_self_contained():
    page = render(samples.broken(), "html")
    parsed = parse(page)
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(parsed.tags)
    for name, value in parsed.attributes:
        if name in ("src", "href") and value is not None:
            assert value.startswith("#"), f"{name}={value} would need something outside the page"
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)[^\s\"<]*\.(css|js|woff2?|png|svg)", page)
    assert "@media print" in page and "prefers-color-scheme: dark" in page
    assert 'name="viewport"' in page


def test_verdict_counts_facts_and_every_result_are_shown():
    sample = samples.broken()
    page = render(sample, "html")
    text = "".join(parse(page).text)
    assert "FAIL" in text and "Events cannot be sent" in text
    assert f"Exit code 2 (CRITICAL): {EXIT_MEANING[ExitCode.CRITICAL]}" in " ".join(text.split())
    assert "Debian GNU/Linux 12 (bookworm)" in text  # host facts (the sample's fake root)
    assert "dt0c01.SAMPLETOKEN0PUBLIC0ID012.<redacted>" in text  # redacted configuration
    duration = f"{sample.duration_ms} ms" if sample.duration_ms < 1000 else f"{sample.duration_ms / 1000:.2f} s"
    assert "dtdoctor 1.0.0" in text and duration in text
    for index, item in enumerate(sample.checks):
        assert f'id="result-{index}"' in page
        assert item.code in text
        assert " ".join(item.summary.split()) in " ".join(text.split())
    # Problems are listed first with their remediation, linked to their result.
    attention = page.index("Needs attention")
    assert attention < page.index("Renew the certificate of 127.0.0.1") < page.index("<h2>Results</h2>")
    # Each family once, with its worst status.
    for family in {item.family for item in sample.checks}:
        assert page.count(f'id="family-{family}"') == 1
    assert re.search(r'<span class="badge status-warn">warn</span><h3>tls</h3>', page)
    assert re.search(r'<span class="badge status-fail">fail</span><h3>token</h3>', page)


def test_certificate_chain_renders_as_a_table_and_problems_open_their_details():
    page = render(samples.broken(), "html")
    assert "<th>subject</th><th>issuer</th>" in page.replace("<th>position</th>", "")
    assert "CN=dtdoctor Sample Issuing CA,O=dtdoctor tests" in page
    token = page[page.index("token.missing_scope</code></div>"):]
    assert token.index("<details open>") < token.index("</article>")


def test_timeline_has_a_bar_per_result_and_marks_the_slowest():
    sample = samples.broken()
    page = render(sample, "html")
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('class="bar"') == len(sample.checks)
    longest = max(item.duration_ms for item in sample.checks)
    assert len(re.findall(r"· slowest</title>", svg)) == 1
    # A local check is labelled by its id alone, one with a target by both.
    labels = [item.id if item.target in ("-", "local") else f"{item.id} {item.target}"
              for item in sample.checks if item.duration_ms == longest]
    marked = re.search(r"<title>([^<]*): \w+, [0-9.]+ m?s · slowest</title>", svg)
    assert marked is not None and marked.group(1) in labels, (marked, labels)
    # Concurrency is visible: bars start at different x positions, scaled to the run.
    starts = {float(x) for x in re.findall(r'<rect class="bar" x="([0-9.]+)"', svg)}
    assert len(starts) > 2


def test_passes_with_skips_read_as_pass_and_warn_ok_is_explained():
    sample = samples.healthy()
    assert sample.status is Status.PASS  # skips beside passes still make a passing run
    page = render(sample, "html")
    assert "Ready to send events" in page
    warned = report(result(status=Status.WARN, code="tls.expiring_soon", summary="soon"), warn_ok=True)
    page = render(warned, "html")
    assert "Exit code <b>0</b> (OK)" in page and "warnings accepted with --warn-ok" in page


def test_fifty_results_stay_under_200_kb():
    page = render(samples.many_results(50), "html")
    assert len(page.encode("utf-8")) < 200_000


def test_console_run_does_not_import_jinja2():
    code = (
        "import sys\n"
        "from dtdoctor.render import render\n"
        "import json\n"
        "from dtdoctor.core.model import Report\n"
        "broken = Report.from_json(json.load(open('reports/broken.json', encoding='utf-8')))\n"
        "render(broken, 'console'); render(broken, 'json'); render(broken, 'nagios')\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 loaded for a console run'\n"
        "render(broken, 'html')\n"
        "assert 'jinja2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_hostile_text_in_the_title_is_escaped_too():
    page = render(hostile_report(), "html")
    title = page[page.index("<title>"):page.index("</title>")]
    assert "<script" not in title and HOSTILE not in title


def test_every_format_copes_with_an_empty_report_and_one_read_back_from_json():
    from dtdoctor.core.model import Report
    from dtdoctor.render import FORMATS

    empty = report(generated_at="", host={}, config={})
    sparse = Report.from_json({"checks": [{"id": "tcp", "status": "fail", "code": "tcp.refused"}]})
    for fmt in FORMATS:
        assert render(empty, fmt)
        assert "tcp" in render(sparse, fmt)
    assert "Nothing could be checked" in render(empty, "html")


_RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def test_control_characters_from_a_report_reach_neither_page_raw(tmp_path):
    # A server's answer can carry NUL and ESC; merge reads them back from the JSON report.
    hostile = hostile_report()
    data = hostile.to_json()
    data["checks"][0]["summary"] += " \x1b[2J cleared"
    data["host"]["hostname"] = "host\x1b]0;retitled\x07"
    (tmp_path / "hostile.json").write_text(json.dumps(data), encoding="utf-8")
    merged = run_cli(["merge", str(tmp_path / "hostile.json"), "-o", str(tmp_path / "fleet.html")])
    assert merged.exit_code in (2, 3), merged.stderr
    fleet = (tmp_path / "fleet.html").read_text(encoding="utf-8")
    page = render(Report.from_json(data), "html")
    for text in (fleet, page):
        assert not _RAW_CONTROL.findall(text)
        assert "\\x1b[2J cleared" in text and "\\x00" in text  # shown as escapes, never acted on


def test_the_configuration_names_a_proxy_that_came_from_the_environment(tmp_path):
    import ssl

    import trustme
    from click.testing import CliRunner

    from dtdoctor.cli import cli
    from tests.support.connect_proxy import connect_proxy
    from tests.support.fake_dynatrace import FakeDynatrace, make_token, serve

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("tenant.dtdoctor.test").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    token = FakeDynatrace().add(make_token("PROXYCONFIG"))
    with serve(FakeDynatrace(), tls=context) as server, connect_proxy() as proxy_port:
        invoked = CliRunner().invoke(
            cli, ["check", "--url", f"https://tenant.dtdoctor.test:{server.port}/e/abc", "--only", "proxy,tls",
                  "--ca-bundle", str(tmp_path / "ca.pem"), "-f", "json", "-o", str(tmp_path / "report.html")],
            env={"HTTPS_PROXY": f"http://user:pa55word@127.0.0.1:{proxy_port}", "DT_API_TOKEN": token},
            catch_exceptions=False,
        )
    config = json.loads(invoked.stdout)["config"]
    shown = f"http://<credentials>@127.0.0.1:{proxy_port}"  # every probe went through it
    assert config["proxy"] == shown and config["proxy_source"] == "HTTPS_PROXY"
    page = parse((tmp_path / "report.html").read_text(encoding="utf-8"))
    text = " ".join(" ".join(page.text).split())
    assert f"Proxy {shown}" in text and "Proxy set by HTTPS_PROXY" in text
    assert "pa55word" not in invoked.stdout + (tmp_path / "report.html").read_text(encoding="utf-8")
