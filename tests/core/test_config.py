"""URL classification and token validation, with examples and generated input."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dtdoctor.config import ConfigError, EndpointKind, TokenKind, parse_token, parse_url, read_token_file
from tests.support.factories import CANARY_SECRET, CANARY_TOKEN, settings

SAAS = "https://abc12345.live.dynatrace.com"


@pytest.mark.parametrize(
    ("text", "kind", "env", "base", "port"),
    [
        (SAAS, EndpointKind.SAAS, "abc12345", SAAS, 443),
        (SAAS + "/", EndpointKind.SAAS, "abc12345", SAAS, 443),
        ("https://abc12345.live.dynatrace.com/api/v2/events/ingest", EndpointKind.SAAS, "abc12345",
         "https://abc12345.live.dynatrace.com", 443),
        ("abc12345.live.dynatrace.com", EndpointKind.SAAS, "abc12345", "https://abc12345.live.dynatrace.com", 443),
        ("https://xyz.apps.dynatrace.com", EndpointKind.SAAS, "xyz", "https://xyz.live.dynatrace.com", 443),
        ("https://abc.sprint.dynatracelabs.com", EndpointKind.SAAS, "abc", "https://abc.sprint.dynatracelabs.com", 443),
        ("https://dt.example.com/e/5f7c3b2a-1111-2222-3333-444455556666/api", EndpointKind.MANAGED,
         "5f7c3b2a-1111-2222-3333-444455556666", "https://dt.example.com/e/5f7c3b2a-1111-2222-3333-444455556666", 443),
        ("https://ag.example.com:9999/e/abc12345", EndpointKind.ENVIRONMENT_ACTIVEGATE, "abc12345",
         "https://ag.example.com:9999/e/abc12345", 9999),
        ("https://[::1]:9999/e/abc", EndpointKind.ENVIRONMENT_ACTIVEGATE, "abc", "https://[::1]:9999/e/abc", 9999),
        ("HTTPS://ABC12345.LIVE.DYNATRACE.COM", EndpointKind.SAAS, "abc12345", SAAS, 443),
    ],
)
def test_environment_urls_are_classified(text, kind, env, base, port):
    endpoint = parse_url(text).endpoint
    assert endpoint is not None
    assert (endpoint.kind, endpoint.environment_id, endpoint.base_url, endpoint.port) == (kind, env, base, port)


@pytest.mark.parametrize(
    ("text", "classic"),
    [
        # The pairs of dynatrace-operator's pkg/util/dtapiurl tests, and the sprint/dev stages on dynatracelabs.com.
        ("https://tenant.apps.dynatrace.com", "https://tenant.live.dynatrace.com"),
        ("https://tenant.sprint.apps.dynatrace.com", "https://tenant.sprint.dynatrace.com"),
        ("https://tenant.dev.apps.dynatrace.com", "https://tenant.dev.dynatrace.com"),
        ("https://tenant.apps.dynatrace.com:8443", "https://tenant.live.dynatrace.com:8443"),
        ("https://abc.sprint.apps.dynatracelabs.com", "https://abc.sprint.dynatracelabs.com"),
        ("https://abc.dev.apps.dynatracelabs.com/", "https://abc.dev.dynatracelabs.com"),
        # What users paste: the browser's address with the app's path.
        ("https://abc12345.apps.dynatrace.com/ui/apps/dynatrace.classic.dashboards/#dashboards",
         "https://abc12345.live.dynatrace.com"),
        ("abc12345.apps.dynatrace.com/ui/apps/dynatrace.notebooks/notebook/1?x=y", "https://abc12345.live.dynatrace.com"),
    ],
)
def test_apps_urls_become_the_classic_api_host(text, classic):
    endpoint = parse_url(text).endpoint
    assert endpoint is not None and endpoint.base_url == classic
    assert endpoint.kind is EndpointKind.SAAS
    assert endpoint.converted_from and ".apps." in endpoint.converted_from
    assert endpoint.environment_id == classic.split("//")[1].split(".")[0]


def test_only_dynatrace_domains_and_environment_urls_are_converted():
    other = parse_url("https://abc.apps.example.com").endpoint
    assert other is not None and other.host == "abc.apps.example.com" and other.converted_from is None
    gate = parse_url("https://abc.apps.dynatrace.com:9999/e/abc", role="activegate").endpoint
    assert gate is not None and gate.converted_from is None
    live_ui = parse_url("https://abc12345.live.dynatrace.com/ui/dashboards").endpoint
    assert live_ui is not None and live_ui.base_url == SAAS
    assert live_ui.converted_from is None


def test_activegate_urls_default_to_port_9999_and_443_means_containerized():
    classic = parse_url("https://ag.example.com/e/abc", role="activegate").endpoint
    containerized = parse_url("https://ag.example.com:443/e/abc", role="activegate").endpoint
    bare = parse_url("https://ag.example.com", role="activegate").endpoint
    assert classic and classic.port == 9999 and classic.kind is EndpointKind.ENVIRONMENT_ACTIVEGATE
    assert containerized and containerized.kind is EndpointKind.CONTAINERIZED_ACTIVEGATE
    assert bare and bare.kind is EndpointKind.ACTIVEGATE and bare.port == 9999


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("ftp://abc.live.dynatrace.com", "scheme"),
        ("https://", "no host"),
        ("https://abc .live.dynatrace.com", "white space"),
        ("https://abc.live.dynatrace.com:99999", "parse"),
        ("https://user:hunter2@abc.live.dynatrace.com", "credentials"),
        ("https://dt.example.com/some/where", "unexpected path"),
        ("https://-bad-.example.com", "not a valid host"),
    ],
)
def test_invalid_urls_say_why(text, reason):
    parsed = parse_url(text)
    assert parsed.endpoint is None
    assert parsed.error and reason in parsed.error
    assert "hunter2" not in (parsed.text + parsed.error)


def test_plain_http_is_parsed_but_marked():
    endpoint = parse_url("http://dt.example.com/e/abc").endpoint
    assert endpoint and endpoint.plaintext and not endpoint.is_loopback
    loopback = parse_url("http://127.0.0.1:8080/e/abc").endpoint
    assert loopback and loopback.is_loopback


@given(st.text(max_size=200))
def test_parse_url_never_raises(text):
    parsed = parse_url(text)
    assert (parsed.endpoint is None) == (parsed.error is not None)


labels = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=20)


@given(env=labels, suffix=st.sampled_from(["", "/", "/api", "/api/v2/events/ingest", "//api/v1/time"]))
def test_any_saas_url_keeps_its_environment_id(env, suffix):
    endpoint = parse_url(f"https://{env}.live.dynatrace.com{suffix}").endpoint
    assert endpoint is not None
    assert endpoint.environment_id == env
    assert endpoint.api_url("/api/v2/events/ingest") == f"https://{env}.live.dynatrace.com/api/v2/events/ingest"


@given(env=labels, port=st.integers(1, 65535))
@example(env="api", port=1)  # an environment id that reads like the API path
def test_any_environment_path_is_kept(env, port):
    endpoint = parse_url(f"https://dt.example.com:{port}/e/{env}/api/v2").endpoint
    assert endpoint is not None and endpoint.environment_id == env and endpoint.port == port


def test_valid_token_parts():
    token = parse_token(CANARY_TOKEN + "\n").token
    assert token is not None
    assert token.token_id == "dt0c01.CANARYPUBLIC000000000000"
    assert token.secret == CANARY_SECRET
    assert token.authorization.startswith("Api-Token ")
    assert CANARY_SECRET not in repr(token) and CANARY_SECRET not in token.redacted


def test_every_kind_is_sent_to_the_classic_api_as_api_token():
    # dynatrace-operator sends Api-Token for every token (pkg/clients/dynatrace/core/client.go).
    for text in ("dt0s16." + "A" * 24 + "." + "B" * 64, "dt0c01." + "A" * 24 + "." + "B" * 64, "aBcDeFgHiJ0123456789x"):
        token = parse_token(text).token
        assert token is not None and token.authorization == f"Api-Token {text}"


@pytest.mark.parametrize(
    ("text", "kind", "usable"),
    [
        ("dt0c01." + "A" * 24 + "." + "B" * 64, TokenKind.CLASSIC, True),
        ("dt0s16." + "A" * 24 + "." + "B" * 64, TokenKind.PLATFORM, True),
        ("dt0s02.ABCD1234", TokenKind.OAUTH_CLIENT, False),
        ("dt0s02.ABCD1234." + "B" * 64, TokenKind.OAUTH_CLIENT, False),
        ("dt0g02.ABCD1234." + "B" * 64, TokenKind.ACTIVEGATE, False),
        ("aBcDeFgHiJ0123456789x", TokenKind.OLD_FORMAT, True),
        ("dt0x07." + "A" * 24 + "." + "B" * 64, TokenKind.OTHER, True),
    ],
)
def test_every_kind_of_token_is_told_apart(text, kind, usable):
    parsed = parse_token(text)
    assert parsed.kind is kind
    assert (parsed.token is not None) is usable
    if not usable:
        assert kind.label in (parsed.error or "") and parsed.shown.startswith(text[:6])
        assert "B" * 12 not in parsed.shown


def test_an_old_format_token_is_shown_by_a_short_prefix_only():
    token = parse_token("aBcDeFgHiJ0123456789x").token
    assert token is not None and token.secret == "aBcDeFgHiJ0123456789x"
    assert token.token_id == "aBcD..." and token.redacted == "aBcD...<redacted>"
    assert "0123456789" not in repr(token)


@pytest.mark.parametrize(
    ("text", "described"),
    [
        (CANARY_TOKEN + "\r", ["trailing carriage return"]),
        ("\ufeff" + CANARY_TOKEN, ["leading byte-order mark"]),
        (" " + CANARY_TOKEN + "\n", ["leading space", "trailing newline"]),
        (CANARY_TOKEN[:20] + "\u200b" + CANARY_TOKEN[20:], ["inside zero width space at position 21"]),
        (CANARY_TOKEN + "\u00a0", ["trailing non-breaking space"]),
    ],
)
def test_whitespace_and_invisible_characters_are_named_and_removed(text, described):
    parsed = parse_token(text)
    assert parsed.token is not None and parsed.token.value == CANARY_TOKEN
    assert [stray.describe() for stray in parsed.strays] == described


def test_a_token_files_final_newline_is_normal_but_a_carriage_return_is_not(tmp_path):
    unix, windows = tmp_path / "unix", tmp_path / "windows"
    unix.write_bytes(CANARY_TOKEN.encode() + b"\n")
    windows.write_bytes(CANARY_TOKEN.encode() + b"\r\n")
    assert parse_token(read_token_file(str(unix))[0]).strays == ()
    assert [s.describe() for s in parse_token(read_token_file(str(windows))[0]).strays] == ["trailing carriage return"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("abc", "prefix"),
        ("abc", "old-format"),
        ("dt0c01.ABC", "2 dot-separated parts"),
        ("dt0c01." + "A" * 23 + "." + "B" * 64, "public part has 23"),
        ("dt0c01." + "A" * 24 + "." + "B" * 63, "secret part has 63"),
        ("dt0c01." + "A" * 24 + "." + "b" * 64, "position 1"),
        ("dt0c01." + "a" * 24 + "." + "B" * 64, "public part has characters"),
    ],
)
def test_malformed_tokens_say_why(text, reason):
    parsed = parse_token(text)
    assert parsed.token is None and parsed.error and reason in parsed.error


secret_alphabet = st.text(alphabet=string.ascii_letters + string.digits + "-_ '\"", min_size=20, max_size=80)


@given(secret=secret_alphabet)
def test_malformed_token_errors_never_quote_the_secret(secret):
    parsed = parse_token(f"dt0c01.{'A' * 24}.{secret}")
    if parsed.token is None:
        assert parsed.error is not None
        assert secret not in parsed.error


def test_token_file_first_line_and_mode(tmp_path):
    path = tmp_path / "token"
    path.write_text(CANARY_TOKEN + "\nsecond line\n")
    path.chmod(0o644)
    text, source = read_token_file(str(path))
    assert text == CANARY_TOKEN and source.kind == "file" and source.mode == 0o644


def test_missing_token_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="token file not found"):
        read_token_file(str(tmp_path / "nope"))


def test_options_win_over_environment():
    env = {"DT_ENVIRONMENT_URL": "https://env.live.dynatrace.com", "DT_TIMEOUT": "2.5",
           "DT_REQUIRED_SCOPES": "events.ingest, events.read", "DT_ACTIVEGATE_URLS": "https://a:9999, https://b:9999"}
    from_env = settings(env)
    assert from_env.environment and from_env.environment.host == "env.live.dynatrace.com"
    assert from_env.timeout == 2.5 and from_env.scopes == ("events.ingest", "events.read")
    assert [ag.endpoint.host for ag in from_env.activegates if ag.endpoint] == ["a", "b"]
    from_options = settings(env, url="https://opt.live.dynatrace.com", timeout=1.0, scopes=("events.read",))
    assert from_options.environment and from_options.environment.host == "opt.live.dynatrace.com"
    assert from_options.timeout == 1.0 and from_options.scopes == ("events.read",)


@pytest.mark.parametrize(("name", "value"), [("DT_TIMEOUT", "abc"), ("DT_TIMEOUT", "0"), ("DT_EEC_PORT", "70000")])
def test_bad_environment_values_name_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        settings({name: value})
