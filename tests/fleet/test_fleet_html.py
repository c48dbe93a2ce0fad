"""The fleet HTML page: self-contained, escaped, linked, bounded for a large fleet."""

from __future__ import annotations

import re
from pathlib import Path

from dtdoctor.core.model import Evidence, Status
from dtdoctor.fleet import FleetMerger, summarize
from dtdoctor.render import fleet_html
from tests.support.factories import result
from tests.support.fleet_reports import host_report, problem, real_check_report, run_cli, write_json

HOSTILE_HOST = "<script>alert('host')</script>"
HOSTILE_SUMMARY = "\"><img src=x onerror=alert('summary')>"


def write_fleet(folder: Path) -> None:
    for index in range(3):
        write_json(folder / f"dmz-{index}.json", host_report(
            f"dmz-{index}",
            problem("tls.untrusted_root", evidence=Evidence(certificate_root="CN=Corp Proxy CA")),
            problem("tcp.timeout", target="ag.example.com:9999"),
            result(),
        ))
    hostile = host_report(HOSTILE_HOST, problem("token.missing_scope", target="abc12345.live.dynatrace.com",
                                                evidence=Evidence(missing_scopes=("events.ingest",))))
    hostile["checks"][0]["summary"] = HOSTILE_SUMMARY
    write_json(folder / "hostile.json", hostile)
    write_json(folder / "ok-1.json", host_report("ok-1", result(), result(check_id="dns", code="dns.ok")))
    write_json(folder / "package.json", {"name": "not a report"})


def render_page(tmp_path: Path) -> tuple[str, int]:
    folder = tmp_path / "in"
    write_fleet(folder)
    real_check_report(folder / "real.json", {"DT_ENVIRONMENT_URL": "http://127.0.0.1:9/"})
    run = run_cli("merge", str(folder), "-o", str(tmp_path / "fleet.html"))
    return (tmp_path / "fleet.html").read_text(encoding="utf-8"), run.exit_code


def test_page_is_self_contained(tmp_path: Path) -> None:
    page, exit_code = render_page(tmp_path)
    assert exit_code == 2
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(?:src|href|action|data)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?:https?:)?//", page)
    assert "<link" not in page
    assert re.findall(r"<script\b", page) == ["<script"]  # only the inline one that opens linked details
    assert "<script src" not in page
    assert "--pass-bg" in page  # the host report's stylesheet, inlined


def test_hostile_hostnames_and_summaries_are_escaped(tmp_path: Path) -> None:
    page, _ = render_page(tmp_path)
    assert HOSTILE_HOST not in page
    assert "&lt;script&gt;alert(&#39;host&#39;)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(&#39;summary&#39;)&gt;" in page


def test_page_shows_verdict_common_problems_what_they_share_and_matrix(tmp_path: Path) -> None:
    page, _ = render_page(tmp_path)
    assert "status-fail" in page and "Some hosts cannot send events" in page
    codes_table = page[page.index("Most common problems"):page.index("Hosts × checks")]
    assert codes_table.index("tcp.timeout") < codes_table.index("tcp.refused")  # 3 hosts before 1
    assert "certificate root" in codes_table and "CN=Corp Proxy CA" in codes_table
    assert "ag.example.com:9999" in codes_table and "events.ingest" in codes_table
    assert "<b>all 3</b>" in codes_table
    matrix = page[page.index('<table class="matrix">'):page.index("</table>", page.index('<table class="matrix">'))]
    assert matrix.count("<tr>") == 7  # header + 6 hosts
    assert 'class="cell status-fail"' in matrix and 'class="cell status-pass"' in matrix
    assert "package.json" in page and "skipped" in page  # files left out are named


def test_every_link_points_at_an_anchor_on_the_page(tmp_path: Path) -> None:
    page, _ = render_page(tmp_path)
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    links = re.findall(r'href="#([^"]+)"', page)
    assert links
    assert [link for link in links if link not in ids] == []
    # Matrix cells of a failing family link to that family's first result of that host.
    assert any(re.fullmatch(r"host-\d+-tls", link) for link in links)
    details = re.findall(r'<details class="host status-(\w+)" id="host-\d+">', page)
    assert details[:4] == ["fail"] * 4 and details[-1] == "pass"


def test_a_large_fleet_page_stays_bounded(tmp_path: Path) -> None:
    merger = FleetMerger()
    hosts = fleet_html.DETAIL_MAX_HOSTS + 300
    for index in range(hosts):
        chosen = problem("tcp.timeout", target="ag.example.com:9999") if index % 2 else result()
        merger.add_outcome(summarize(host_report(f"h{index:05d}", chosen), f"h{index}.json"))
    fleet = merger.fleet()
    page = fleet_html.render(fleet)
    matrix = page[page.index('<table class="matrix">'):page.index("</table>", page.index('<table class="matrix">'))]
    assert matrix.count("<tr>") == fleet_html.MATRIX_MAX_HOSTS + 1
    assert page.count('<details class="host ') == fleet_html.DETAIL_MAX_HOSTS
    assert "300 further hosts" in page
    assert fleet.hosts[0].status is Status.FAIL  # problem hosts come first, so they get the detail
    assert len(page) < 3_000_000


def test_a_fleet_where_nothing_was_checked_does_not_claim_that_everything_works(tmp_path: Path) -> None:
    skipped = result(check_id="dns", code="dns.proxied", status=Status.SKIP)
    write_json(tmp_path / "in" / "a.json", host_report("a", skipped))
    run = run_cli("merge", str(tmp_path / "in"), "-o", str(tmp_path / "fleet.html"))
    page = (tmp_path / "fleet.html").read_text(encoding="utf-8")
    assert run.exit_code == 0
    assert "nothing was checked: every check was skipped" in page
    assert "everything needed to send events works" not in page
