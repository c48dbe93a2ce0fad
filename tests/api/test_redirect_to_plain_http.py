"""A server that redirects HTTPS requests to plain http:// is named as such, never advised to be used."""

from __future__ import annotations

from urllib.parse import urlsplit

from dtdoctor.core.model import Status
from tests.api.conftest import one
from tests.support.fake_dynatrace import Reply, make_token, serve

GOOD = make_token("GOODTOKEN")


def test_a_redirect_to_plain_http_on_the_same_host_is_not_advised_as_the_url_to_use(run, server_tls):
    # As a reverse proxy answers that believes TLS ends elsewhere: `return 301 http://$host$request_uri;`.
    def downgrade(request):
        return Reply(301, b"", {"Location": f"http://127.0.0.1:{port}{request.path}"})

    with serve(downgrade, server_tls) as server:
        port = urlsplit(server.url()).port
        result = one(run(["api"], token=GOOD, url=server.url()), "api")
        assert len(server.requests) == 1
    assert result.code == "api.redirect" and result.status is Status.FAIL
    assert f"redirects to plain HTTP (http://127.0.0.1:{port}/e/abc/api/v1/time)" in result.summary
    assert "use that URL directly" not in result.remediation
    assert "dtdoctor never sends the token over plain HTTP" in result.remediation
    assert "ask whoever runs 127.0.0.1 (or the reverse proxy or load balancer in front of it)" in result.remediation
