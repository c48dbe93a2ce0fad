"""The redaction boundary: whole tokens, secret fragments, split writes."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from dtdoctor.redact import RedactingStream, Redactor
from tests.support.factories import CANARY_PUBLIC, CANARY_SECRET, CANARY_TOKEN


def test_whole_token_keeps_its_public_id():
    text = Redactor([CANARY_SECRET]).scrub(f"Authorization: Api-Token {CANARY_TOKEN}")
    assert CANARY_SECRET not in text
    assert f"dt0c01.{CANARY_PUBLIC}.<redacted>" in text


def test_unknown_tokens_are_redacted_too():
    other = "dt0c01." + "Q" * 24 + "." + "W" * 64
    assert "W" * 20 not in Redactor().scrub(f"echo: {other}")


def test_truncated_echo_of_the_secret_is_caught():
    fragment = CANARY_SECRET[5:40]
    text = Redactor([CANARY_SECRET]).scrub(f"body: ...{fragment}")
    assert fragment[:12] not in text and CANARY_SECRET[20:32] not in text


def test_url_encoded_secret_is_caught():
    password = "p@ss:w/rd!long-enough"
    from urllib.parse import quote

    text = Redactor([password]).scrub(f"proxy said: {quote(password, safe='')}")
    assert quote(password, safe="") not in text and "<redacted>" in text
    in_url = Redactor([password]).scrub(f"proxy=http://u:{quote(password, safe='')}@proxy:3128")
    assert in_url == "proxy=http://<credentials>@proxy:3128"


def test_user_information_of_any_url_is_hidden_as_credentials():
    redactor = Redactor()
    assert redactor.scrub("GET https://alice@ag.example.com:9999/e/abc") == "GET https://<credentials>@ag.example.com:9999/e/abc"
    assert redactor.scrub("'http://bob:p@ss@proxy:3128/x'") == "'http://<credentials>@proxy:3128/x'"  # the last @
    assert redactor.scrub("<a href=\"https://u:pw@h/\">", markup=True) == '<a href="https://&lt;credentials&gt;@h/">'
    for untouched in ("https://host/path@v2", "mail alice@example.com", "https://<credentials>@h", "a://b?c=d@e"):
        assert redactor.scrub(untouched) == untouched
    shown = redactor.scrub("https://&lt;credentials&gt;@h", markup=True)
    assert shown == "https://&lt;credentials&gt;@h"  # scrubbing twice changes nothing


def test_stream_catches_a_secret_split_across_writes():
    target = io.StringIO()
    stream = RedactingStream(target, Redactor([CANARY_SECRET]))
    stream.write("token=" + CANARY_SECRET[:30])
    stream.write(CANARY_SECRET[30:] + "\nnext")
    stream.flush()
    assert CANARY_SECRET[:12] not in target.getvalue()
    assert target.getvalue().endswith("next")


@given(prefix=st.text(max_size=50), suffix=st.text(max_size=50), start=st.integers(0, 52))
def test_any_embedded_piece_of_12_or_more_is_removed(prefix, suffix, start):
    piece = CANARY_SECRET[start:]
    assert piece[:12] not in Redactor([CANARY_SECRET]).scrub(prefix + piece + suffix)


def test_closing_the_wrapper_after_the_real_stream_is_quiet():
    target = io.StringIO()
    stream = RedactingStream(target, Redactor())
    stream.write("partial")
    target.close()
    stream.close()  # no ValueError: the real stream is gone
    assert stream.closed


def test_a_short_common_value_is_not_a_secret_that_rewrites_the_report():
    """A token of 'null' (jq -r of a missing key) or a proxy password 'pass' must not turn JSON into garbage."""
    redactor = Redactor(["null", "pass", "fail", "dt0c01"])
    text = '{"status": "pass", "token": null, "counts": {"fail": 0}}'
    assert redactor.scrub(text) == text


def test_a_re_cased_echo_of_the_secret_is_caught():
    redactor = Redactor([CANARY_SECRET])
    assert CANARY_SECRET.lower()[:12] not in redactor.scrub(f"echo: {CANARY_SECRET.lower()}")
    assert CANARY_SECRET.lower()[20:32] not in redactor.scrub(f"echo: ...{CANARY_SECRET.lower()[18:40]}")


def test_in_markup_the_replacement_and_the_escaped_secret_are_handled():
    password = "p&ss<w0rd>long"
    redactor = Redactor([password])
    escaped = "p&amp;ss&lt;w0rd&gt;long"
    assert redactor.scrub(f"<failure message='{escaped}'/>", markup=True) == "<failure message='&lt;redacted&gt;'/>"
    assert redactor.scrub(f"say {password}") == "say <redacted>"


def test_the_shown_placeholder_escaped_for_markup_is_left_as_it_is_outside_markup_too():
    # ``-f junit`` and ``-f html`` go to stdout through a stream that does not know they are markup: the
    # renderer's escaped ``&lt;credentials&gt;`` must not come out as a raw ``<credentials>`` there.
    redactor = Redactor()
    for shown in ("https://&lt;credentials&gt;@proxy:3128", "http://&amp;lt;credentials&amp;gt;@p:1"):
        assert redactor.scrub(shown) == shown


def test_junit_and_html_on_stdout_stay_well_formed_with_a_proxy_password(tmp_path):
    import xml.etree.ElementTree as ET

    from tests.support.cli import invoke
    from tests.support.listeners import closed_port

    environ = {"HTTPS_PROXY": f"http://alice:Sup3rSecretPw@127.0.0.1:{closed_port()}"}
    url = "https://tenant.dtdoctor.test/e/abc"
    junit = invoke("check", "--url", url, "--only", "proxy,dns", "-f", "junit", env=environ)
    root = ET.fromstring(junit.stdout)  # a raw "<credentials>" in an attribute is not XML
    assert "<credentials>" in " ".join(case.get("message", "") for case in root.iter("skipped"))
    html = invoke("check", "--url", url, "--only", "proxy,dns", "-f", "html", env=environ)
    assert "<credentials>" not in html.stdout and "&lt;credentials&gt;" in html.stdout
    assert "Sup3rSecretPw" not in junit.stdout + html.stdout


def test_a_secret_a_proxy_echoes_is_redacted_as_markup_in_junit_and_html_on_stdout():
    import xml.etree.ElementTree as ET

    from tests.support.cli import invoke
    from tests.support.hostile_servers import scripted_server

    page = b"<html><head><title>Denied for alice:Sup3rSecretPw</title></head></html>"
    answer = (b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"lab\"\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(page)) + page
    with scripted_server(answer, hold=False) as port:
        environ = {"HTTPS_PROXY": f"http://alice:Sup3rSecretPw@127.0.0.1:{port}"}
        args = ("check", "--url", "https://tenant.dtdoctor.test/e/abc", "--only", "proxy", "-v")
        junit = invoke(*args, "-f", "junit", env=environ)
        html = invoke(*args, "-f", "html", env=environ)
    ET.fromstring(junit.stdout)  # the echo's redaction is escaped, not a "<redacted>" tag
    assert "Denied for alice:&lt;redacted&gt;" in html.stdout
    assert "Sup3rSecretPw" not in junit.stdout + html.stdout
