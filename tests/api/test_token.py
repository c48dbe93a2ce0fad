"""The ``token`` check: the lookup's verdicts, and the inferred verdict where the lookup is unavailable."""

from __future__ import annotations

import datetime as dt

import pytest

from dtdoctor.checks.token import parse_date
from dtdoctor.core.model import Status
from tests.api.conftest import one
from tests.support.fake_dynatrace import FakeDynatrace, Reply, days_from_now, error, make_token, serve

FINE = make_token("FINE")
NOSCOPE = make_token("NOSCOPE")
DISABLED = make_token("DISABLED")
EXPIRED = make_token("EXPIRED")
EXPIRING = make_token("EXPIRING")
LATER = make_token("LATER")
UNKNOWN = make_token("UNKNOWN")


def dynatrace(lookup_available: bool = True) -> FakeDynatrace:
    fake = FakeDynatrace(lookup_available=lookup_available)
    fake.add(FINE, name="ingest from web-01", scopes=("events.ingest", "metrics.ingest"))
    fake.add(NOSCOPE, name="read only", scopes=("events.read", "metrics.read"))
    fake.add(DISABLED, enabled=False)
    fake.add(EXPIRED, expires=days_from_now(-3))
    fake.add(EXPIRING, expires=days_from_now(5))
    fake.add(LATER, expires=days_from_now(200))
    return fake


@pytest.fixture()
def env(server_tls):
    fake = dynatrace()
    with serve(fake, server_tls) as server:
        yield server


def token_result(run, server, token, **options):
    return one(run(["token"], token=token, url=server.url(), **options), "token")


def test_a_fine_token(run, env):
    result = token_result(run, env, FINE)
    assert result.code == "token.ok" and result.status is Status.PASS
    assert result.details["name"] == "ingest from web-01"
    assert result.details["id"] == ".".join(FINE.split(".")[:2])
    assert result.details["owner"] == "admin@example.com"
    assert result.details["scopes"] == ["events.ingest", "metrics.ingest"]
    assert result.details["created"] and result.details["last_used"]
    assert result.details["verdict"] == "lookup"
    assert "never expires" in result.summary
    # The lookup carries the token in the body, authenticated with itself, and nothing else was asked.
    assert env.paths() == ["POST /e/abc/api/v2/apiTokens/lookup"]
    assert env.requests[0].json() == {"token": FINE}
    assert env.requests[0].authorization == f"Api-Token {FINE}"
    assert FINE.split(".")[2] not in str(result.to_json())


def test_a_missing_scope_names_it_and_the_setting_to_change(run, env):
    result = token_result(run, env, NOSCOPE)
    assert result.code == "token.missing_scope" and result.status is Status.FAIL
    assert result.details["missing_scopes"] == ["events.ingest"]
    assert "events.read" in result.summary
    assert "add scope Ingest events (events.ingest)" in result.remediation


def test_every_required_scope_is_checked(run, env):
    result = token_result(run, env, FINE, scopes=("events.ingest", "logs.ingest", "metrics.ingest"))
    assert result.code == "token.missing_scope"
    assert result.details["missing_scopes"] == ["logs.ingest"]
    assert "Ingest logs (logs.ingest)" in result.remediation


@pytest.mark.parametrize("token", [DISABLED, EXPIRED, UNKNOWN])
def test_a_refused_lookup_names_every_cause_dynatrace_does_not_tell_apart(run, env, token):
    # A disabled or expired token authenticating its own lookup gets 401 like an unknown one (the fake
    # marks this unconfirmed): the verdict cannot claim more than "one of these".
    result = token_result(run, env, token)
    assert result.code == "token.unauthorized" and result.status is Status.FAIL
    assert all(word in result.summary for word in ("unknown", "mistyped", "disabled", "expired"))
    assert "does not say which" in result.summary
    assert env.paths() == ["POST /e/abc/api/v2/apiTokens/lookup"]


def test_a_401_that_says_disabled_is_a_disabled_token(run, server_tls):
    with serve(lambda request: error(401, "Token is disabled"), server_tls) as server:
        result = token_result(run, server, FINE)
    assert result.code == "token.disabled" and "Token is disabled" in result.summary


def test_the_lookup_fields_of_a_disabled_token_still_decide_when_dynatrace_answers_them(run, server_tls):
    # docs: ApiToken.enabled; seen when the lookup answers for a token that is not the caller.
    fake = dynatrace()
    record = dict(fake.tokens[DISABLED])
    with serve(lambda request: Reply(200, record), server_tls) as server:
        assert token_result(run, server, DISABLED).code == "token.disabled"


def test_a_token_expiring_within_the_warning_window(run, env):
    result = token_result(run, env, EXPIRING)
    assert result.code == "token.expiring_soon" and result.status is Status.WARN
    assert result.details["days_left"] == pytest.approx(5, abs=0.1)
    assert "Generate a replacement" in result.remediation


def test_the_warning_window_is_configurable(run, env):
    assert token_result(run, env, EXPIRING, expiry_warn_days=2).code == "token.ok"
    assert token_result(run, env, LATER, expiry_warn_days=365).code == "token.expiring_soon"


def test_an_unknown_token_is_unauthorized(run, env):
    result = token_result(run, env, UNKNOWN)
    assert result.code == "token.unauthorized" and result.status is Status.FAIL
    assert result.details["error"] == "Token Authentication failed"


def test_a_401_that_says_expired_is_an_expired_token(run, server_tls):
    with serve(lambda request: error(401, "Token is expired"), server_tls) as server:
        assert token_result(run, server, FINE).code == "token.expired"


def test_no_token_is_a_skip_without_any_request(run, env):
    result = one(run(["token"], url=env.url()), "token")
    assert result.code == "token.missing" and result.status is Status.SKIP
    assert env.requests == []


def test_a_malformed_token_is_skipped_without_any_request(run, env):
    results = run(["config.token", "token"], token="dt0c01.tooshort", url=env.url())
    result = one(results, "token")
    assert result.status is Status.SKIP and "config.token" in result.summary
    assert env.requests == []
    # Without the config.token check selected, the probe itself says why.
    alone = one(run(["token"], token="dt0c01.tooshort", url=env.url()), "token")
    assert alone.code == "token.malformed" and alone.status is Status.SKIP
    assert env.requests == []


@pytest.fixture()
def no_lookup(server_tls):
    fake = dynatrace(lookup_available=False)
    with serve(fake, server_tls) as server:
        yield server, fake


def test_without_the_lookup_a_fine_token_is_inferred_ok_and_nothing_is_created(run, no_lookup):
    server, fake = no_lookup
    result = token_result(run, server, FINE)
    assert result.code == "token.ok"
    assert result.details["verdict"] == "inferred"
    assert "inferred" in result.summary
    assert server.paths() == ["POST /e/abc/api/v2/apiTokens/lookup", "POST /e/abc/api/v2/events/ingest"]
    assert fake.events == []  # the probe event is invalid by design: nothing was ingested


def test_without_the_lookup_a_missing_scope_is_inferred(run, no_lookup):
    server, fake = no_lookup
    result = token_result(run, server, NOSCOPE)
    assert result.code == "token.missing_scope"
    assert result.details["verdict"] == "inferred"
    assert fake.events == []


def test_without_the_lookup_an_unknown_token_is_still_unauthorized(run, no_lookup):
    server, _ = no_lookup
    # The unknown token fails authentication on the lookup itself (401), before any inference.
    assert token_result(run, server, UNKNOWN).code == "token.unauthorized"


def test_without_the_lookup_other_scopes_cannot_be_verified(run, no_lookup):
    server, _ = no_lookup
    result = token_result(run, server, FINE, scopes=("events.ingest", "logs.ingest"))
    assert result.code == "token.ok" and result.status is Status.WARN
    assert result.details["unverified_scopes"] == ["logs.ingest"]


def test_a_captive_portal_leaves_the_token_unverified(run, server_tls):
    with serve(lambda request: Reply(200, "<html><body>Login</body></html>", content_type="text/html"),
               server_tls) as server:
        result = token_result(run, server, FINE)
    assert result.code == "token.unverified" and result.status is Status.ERROR  # could not check


def test_truncated_json_leaves_the_token_unverified(run, server_tls):
    with serve(lambda request: Reply(200, b'{"id": "dt0c01.FINE", "scopes": ["events.in'), server_tls) as server:
        result = token_result(run, server, FINE)
    assert result.code == "token.unverified"
    assert "truncated" in result.summary


def test_rate_limiting_leaves_the_token_unverified_as_a_warning(run, server_tls):
    reply = error(429, "Too many requests")
    reply.headers["Retry-After"] = "7"
    with serve(lambda request: reply, server_tls) as server:
        result = token_result(run, server, FINE)
    assert result.code == "token.unverified" and result.status is Status.WARN
    assert "7" in result.remediation


def test_a_stalled_lookup_is_unverified_within_the_timeout(run, server_tls):
    with serve(lambda request: Reply(200, b'{"scopes": []}', stall_after=3), server_tls) as server:
        result = token_result(run, server, FINE, timeout=0.3)
    assert result.code == "token.unverified"
    assert result.details["failure"] == "stalled"


def test_the_token_waits_for_a_failing_api_result(run, server_tls):
    with serve(lambda request: Reply(200, "<html>portal</html>", content_type="text/html"), server_tls) as server:
        results = run(["api", "token"], token=FINE, url=server.url())
        assert one(results, "token").code == "prerequisite.failed"
        assert server.paths() == ["GET /e/abc/api/v1/time"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01T10:00:00.000Z", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
        ("2026-05-01T10:00:00Z", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
        ("2026-05-01T12:00:00+02:00", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
        ("2026-05-01T10:00", dt.datetime(2026, 5, 1, 10, tzinfo=dt.timezone.utc)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_dates_as_dynatrace_writes_them(text, expected):
    assert parse_date(text) == expected


def test_a_401_of_something_else_is_not_blamed_on_the_token(run, server_tls):
    reply = Reply(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="corp"'}, content_type="text/plain")
    with serve(lambda request: reply, server_tls) as server:
        result = token_result(run, server, FINE)
    assert result.code == "token.unverified"
    assert result.details["www_authenticate"] == "Basic"


def test_an_inferred_missing_scope_does_not_pretend_to_know_the_other_scopes(run, no_lookup):
    server, _ = no_lookup
    result = token_result(run, server, NOSCOPE)
    assert "unknown" in result.summary and "it has" not in result.summary


PLATFORM = make_token("PLATFORM", prefix="dt0s16")


@pytest.mark.parametrize("accepted", [True, False])
def test_a_platform_token_skips_the_lookup_and_is_sent_as_api_token(run, server_tls, accepted):
    # dynatrace-operator sends Api-Token for every token and skips the scope lookup for platform tokens;
    # whether the classic API accepts one is unconfirmed, so the fake runs both ways.
    fake = FakeDynatrace(platform_tokens_accepted=accepted)
    fake.add(PLATFORM, scopes=("events.ingest",))
    with serve(fake, server_tls) as server:
        result = token_result(run, server, PLATFORM)
        assert server.paths() == ["POST /e/abc/api/v2/events/ingest"]
        assert all(request.authorization == f"Api-Token {PLATFORM}" for request in server.requests)
    assert fake.events == []
    assert result.details["token_kind"] == "platform" and result.details["authorization"] == "Api-Token"
    if accepted:
        assert result.code == "token.ok" and "inferred" in result.summary
    else:
        # Dynatrace answered; only what its 401 means for a platform token is unconfirmed: a warning.
        assert result.code == "token.unverified" and result.status is Status.WARN
        assert "platform token" in result.summary and "unconfirmed" in result.summary
        assert "dt0c01" in result.remediation


def test_a_platform_token_that_cannot_be_checked_is_an_error(run, server_tls):
    with serve(lambda request: Reply(200, "<html>portal</html>", content_type="text/html"), server_tls) as server:
        result = token_result(run, server, PLATFORM)
    assert result.code == "token.unverified" and result.status is Status.ERROR


def test_the_fake_refuses_bearer_for_a_classic_token(server_tls):
    # docs "Tokens and authentication": classic tokens go in Api-Token; the fake authenticates nothing else.
    from tests.support.fake_dynatrace import Recorded

    fake = dynatrace()
    bearer = Recorded("GET", "/e/abc/api/v1/time", {"authorization": f"Bearer {FINE}"}, b"")
    classic = Recorded("GET", "/e/abc/api/v1/time", {"authorization": f"Api-Token {FINE}"}, b"")
    assert fake(bearer).status == 401 and fake(classic).status == 200
