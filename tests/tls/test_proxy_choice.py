"""Which proxy applies to an endpoint: curl's NO_PROXY rules (plus CIDR) and the precedence of settings."""

from __future__ import annotations

import pytest

from dtdoctor.net.proxy import ProxyChoice, choose_proxy, no_proxy_match


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "expected"),
    [
        ("abc.live.dynatrace.com", 443, "", None),
        ("abc.live.dynatrace.com", 443, " , ,", None),
        ("abc.live.dynatrace.com", 443, "*", "*"),
        ("abc.live.dynatrace.com", 443, "other.test, *", "*"),
        ("abc.live.dynatrace.com", 443, "dynatrace.com", "dynatrace.com"),
        ("abc.live.dynatrace.com", 443, " .Dynatrace.COM ", ".Dynatrace.COM"),
        ("abc.live.dynatrace.com", 443, "*.dynatrace.com", "*.dynatrace.com"),
        ("ABC.live.dynatrace.com", 443, "abc.live.dynatrace.com", "abc.live.dynatrace.com"),
        ("notdynatrace.com", 443, "dynatrace.com", None),
        ("abc.live.dynatrace.com", 443, "dynatrace.com:443", "dynatrace.com:443"),
        ("abc.live.dynatrace.com", 443, "dynatrace.com:8443", None),
        ("abc.live.dynatrace.com", 443, "dynatrace.com:8443,live.dynatrace.com", "live.dynatrace.com"),
        ("10.1.2.3", 443, "10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3", 443, "10.0.0.0/8:443", "10.0.0.0/8:443"),
        ("10.1.2.3", 443, "10.0.0.0/8:80", None),
        ("11.1.2.3", 443, "10.0.0.0/8", None),
        ("abc.live.dynatrace.com", 443, "10.0.0.0/8", None),
        ("10.1.2.3", 443, "not/a-network, 10.1.2.3", "10.1.2.3"),
        ("[::1]", 443, "::1", "::1"),
        ("[fd00::5]", 443, "fd00::/8", "fd00::/8"),
        ("fd00::5", 443, "fd00::5", "fd00::5"),
        # Bracketed IPv6 addresses and networks, as in a URL: accepted too (curl, httpx and requests take only
        # the bare form; dtdoctor is lenient, since the bracketed form is what users copy from URLs).
        ("fd00::1", 443, "[fd00::1],[fd00::/64]", "[fd00::1]"),
        ("fd00::5", 443, "[fd00::1],[fd00::/64]", "[fd00::/64]"),
        ("fd00::5", 443, "fd00::/64", "fd00::/64"),
        ("fd01::5", 443, "[fd00::1],[fd00::/64],fd00::/64", None),
        # An IP address is compared as an address, not as text: curl's lib/noproxy.c parses both sides with
        # inet_pton (Curl_cidr6_match, Curl_cidr4_match), so another spelling of the same address matches.
        ("fd00::1", 443, "fd00:0:0::1", "fd00:0:0::1"),
        ("[FD00::1]", 443, "fd00:0000::0001", "fd00:0000::0001"),
        ("fd00::10", 443, "fd00::1", None),  # no text match: ::1 is not a suffix to match on
    ],
)
def test_no_proxy_match(host: str, port: int, no_proxy: str, expected: str | None) -> None:
    assert no_proxy_match(host, port, no_proxy) == expected


def test_https_prefers_lower_case_and_names_the_http_setting_ignored() -> None:
    environ = {"https_proxy": "p1:3128", "HTTPS_PROXY": "http://p2:3128", "HTTP_PROXY": "http://p3:3128"}
    assert choose_proxy("HTTPS", "abc.test", 443, None, environ) == ProxyChoice(
        "http://p1:3128", "https_proxy", None, ("HTTP_PROXY",)
    )


def test_http_uses_http_proxy_then_all_proxy() -> None:
    environ = {"https_proxy": "http://s:1", "ALL_PROXY": "socks5://a:1080"}
    assert choose_proxy("http", "abc.test", 80, None, environ) == ProxyChoice(
        "socks5://a:1080", "ALL_PROXY", None, ("https_proxy",)
    )
    environ["http_proxy"] = "http://h:1"
    assert choose_proxy("http", "abc.test", 80, None, environ).source == "http_proxy"


def test_explicit_proxy_wins_but_no_proxy_still_applies() -> None:
    environ = {"HTTPS_PROXY": "http://env:3128", "no_proxy": "abc.test", "NO_PROXY": "other.test"}
    assert choose_proxy("https", "x.test", 443, "https://cli:3129", environ) == ProxyChoice(
        "https://cli:3129", "--proxy", None, ()
    )
    assert choose_proxy("https", "abc.test", 443, "https://cli:3129", environ) == ProxyChoice(
        None, "", "no_proxy=abc.test", ()
    )


def test_no_setting_and_loopback_are_direct() -> None:
    assert choose_proxy("https", "abc.test", 443, None, {"NO_PROXY": "*"}) == ProxyChoice(None, "", None, ())
    assert choose_proxy("https", "127.0.0.1", 443, None, {"HTTPS_PROXY": "http://p:1"}) == ProxyChoice(
        None, "", "loopback (always direct)", ()
    )
    blank = {"https_proxy": "  ", "HTTPS_PROXY": "http://p:1", "no_proxy": " ", "NO_PROXY": "abc.test"}
    assert choose_proxy("https", "abc.test", 443, None, blank) == ProxyChoice(None, "", "NO_PROXY=abc.test", ())
