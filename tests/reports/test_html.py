"""The HTML report: self-contained, escaped, complete, small."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

from dtdoctor.core.model import EXIT_MEANING, ExitCode, Status
from dtdoctor.render import render
from tests.support import samples
from tests.support.factories import report, result
from tests.support.reports import HOSTILE, hostile_report


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
    assert "Debian GNU/Linux 12 (bookworm)" in text  # host facts
    assert "dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.<redacted>" in text  # redacted configuration
    assert "dtdoctor 1.0.0" in text and "5.01 s" in text
    for index, item in enumerate(sample.checks):
        assert f'id="result-{index}"' in page
        assert item.code in text
        assert " ".join(item.summary.split()) in " ".join(text.split())
    # Problems are listed first with their remediation, linked to their result.
    attention = page.index("Needs attention")
    assert attention < page.index("chmod 600 /etc/dtdoctor/token") < page.index("<h2>Results</h2>")
    # Each family once, with its worst status.
    for family in {item.family for item in sample.checks}:
        assert page.count(f'id="family-{family}"') == 1
    assert re.search(r'<span class="badge status-fail">fail</span><h3>tls</h3>', page)


def test_certificate_chain_renders_as_a_table_and_problems_open_their_details():
    page = render(samples.broken(), "html")
    assert "<th>subject</th><th>issuer</th>" in page.replace("<th>position</th>", "")
    assert "CN=Corp TLS Inspection CA, O=Example Corp" in page
    tls = page[page.index("tls.untrusted_root</code></div>"):]
    assert tls.index("<details open>") < tls.index("</article>")


def test_timeline_has_a_bar_per_result_and_marks_the_slowest():
    sample = samples.broken()
    page = render(sample, "html")
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count('class="bar"') == len(sample.checks)
    slowest = max(sample.checks, key=lambda item: item.duration_ms)
    assert svg.count("slowest") >= 1
    assert f"{slowest.id} {slowest.target}: {slowest.status.value}, 5.00 s · slowest" in svg
    # Concurrency is visible: bars start at different x positions, scaled to the run.
    starts = {float(x) for x in re.findall(r'<rect class="bar" x="([0-9.]+)"', svg)}
    assert len(starts) > 3


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
        "from tests.support.samples import broken\n"
        "render(broken(), 'console'); render(broken(), 'json'); render(broken(), 'nagios')\n"
        "assert 'jinja2' not in sys.modules, 'jinja2 loaded for a console run'\n"
        "render(broken(), 'html')\n"
        "assert 'jinja2' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


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
