"""nginx with real certificate faults, seen from the client namespace."""

from __future__ import annotations

import pytest

from tests.lab.services import name

pytestmark = pytest.mark.lab


def managed(label: str) -> str:
    return f"https://{name(label)}/e/abc12345"


def test_good_chain_passes(check):
    run = check("--url", managed("good"), "--only", "dns,tcp,tls,clock")
    assert run.result("tls")["code"] == "tls.ok", run.words("tls")
    assert run.result("tcp")["code"] == "tcp.open"


@pytest.mark.parametrize(
    ("label", "code", "words"),
    [
        ("expired", "tls.expired", "expired 3 day(s) ago"),
        ("wronghost", "tls.hostname_mismatch", "other.lab.test, not wronghost.lab.test"),
        ("selfsigned", "tls.self_signed", "self-signed"),
        ("tls10", "tls.handshake_failed", "only the outdated TLSv1"),
        ("plain", "tls.handshake_failed", "does not speak TLS"),
    ],
)
def test_certificate_faults_are_named(check, label, code, words):
    run = check("--url", managed(label), "--only", "dns,tcp,tls")
    assert run.result("tls")["code"] == code, run.words("tls")
    assert words in run.words("tls")


def test_tls13_only_server_passes(check):
    run = check("--url", managed("tls13"), "--only", "dns,tcp,tls")
    found = run.result("tls")
    assert found["code"] == "tls.ok", run.words("tls")
    assert found["details"]["protocol"] == "TLSv1.3"


def test_tls12_only_server_passes(check):
    # nginx with `ssl_protocols TLSv1.2;`: still the floor Dynatrace asks for, so no warning.
    run = check("--url", managed("tls12"), "--only", "dns,tcp,tls")
    found = run.result("tls")
    assert (found["code"], found["status"]) == ("tls.ok", "pass"), run.words("tls")
    assert found["details"]["protocol"] == "TLSv1.2"
    assert found["summary"].startswith("TLSv1.2, certificate for ")


def test_a_redirect_to_another_host_names_where_it_points_and_what_to_do(check):
    # nginx `return 301 https://elsewhere.lab.test$request_uri;`: a wrong environment URL or a moved cluster.
    from tests.lab.services import REDIRECT_TARGET

    run = check("--url", managed("redirect"), "--only", "dns,tcp,tls,api")
    found = run.result("api")
    assert (found["code"], found["status"]) == ("api.redirect", "fail"), run.words("api")
    assert found["summary"] == (
        f"https://{name('redirect')}/e/abc12345 redirects to https://{REDIRECT_TARGET}/e/abc12345/api/v1/time "
        "(HTTP 301) (points to another host, port or scheme); not followed: nothing was sent there"
    )
    assert found["remediation"].startswith(
        f"If https://{REDIRECT_TARGET}:443 is really your Dynatrace environment, use that URL directly"
    )
    assert found["details"]["redirects"] == [{
        "status": 301, "location": f"https://{REDIRECT_TARGET}/e/abc12345/api/v1/time", "followed": False,
        "reason": "points to another host, port or scheme",
    }]


def test_a_redirect_to_plain_http_is_never_advised_as_the_url_to_use(check):
    # nginx `return 301 http://$host$request_uri;`: a reverse proxy that believes TLS ends somewhere else.
    host = name("downgrade")
    run = check("--url", managed("downgrade"), "--only", "dns,tcp,tls,api")
    found = run.result("api")
    assert (found["code"], found["status"]) == ("api.redirect", "fail"), run.words("api")
    assert f"redirects to plain HTTP (http://{host}/e/abc12345/api/v1/time) (HTTP 301)" in found["summary"]
    assert "use that URL directly" not in found["remediation"]
    assert "dtdoctor never sends the token over plain HTTP" in found["remediation"]
    assert f"ask whoever runs {host} (or the reverse proxy or load balancer in front of it)" in found["remediation"]


def test_captive_page_is_not_dynatrace(check):
    run = check("--url", managed("captive"), "--only", "dns,tcp,tls,api")
    assert run.result("api")["code"] == "api.not_dynatrace", run.words("api")


def test_a_dynatrace_host_behind_a_private_root_is_inspected(check):
    # The lab DNS sends the SaaS name to nginx, whose chain ends in the lab's own root (trusted via --ca-bundle),
    # as a TLS-inspecting proxy's would.
    from tests.lab.services import SAAS_HOST

    run = check("--url", f"https://{SAAS_HOST}", "--only", "dns,tcp,tls")
    found = run.result("tls")
    assert found["code"] == "tls.inspected" and found["status"] == "warn", run.words("tls")
    assert f"the traffic to {SAAS_HOST} is inspected" in found["summary"]
    assert "issued by 'Testing CA" in found["summary"] or "issued by '" in found["summary"]
    assert "not a public CA in Mozilla's list" in found["summary"]


def test_a_managed_host_behind_the_same_root_is_not_called_inspected(check):
    run = check("--url", managed("good"), "--only", "dns,tcp,tls")
    assert run.result("tls")["code"] == "tls.ok"


@pytest.mark.parametrize("timeout", [2, 4])
def test_a_path_that_drops_large_packets_is_named_at_any_timeout(check, timeout):
    run = check("--url", managed("bigdrop"), "--only", "dns,tcp,tls", timeout=timeout)
    assert run.result("tcp")["code"] == "tcp.open"
    found = run.result("tls")
    assert found["code"] == "tls.large_packets_dropped", run.words("tls")
    assert "the path drops large packets" in found["summary"]
    assert "fragmentation needed" in found["remediation"]


@pytest.mark.parametrize("timeout", [2, 5])
def test_a_firewall_that_resets_the_client_hello_by_server_name_is_named(check, timeout):
    # The router's iptables matches the name in the ClientHello (-m string) and answers with a TCP reset.
    from tests.lab.services import SNI_BLOCKED

    run = check("--url", f"https://{SNI_BLOCKED}/e/abc12345", "--only", "dns,tcp,tls", timeout=timeout)
    assert run.result("tcp")["code"] == "tcp.open"
    found = run.result("tls")
    assert found["code"] == "tls.reset_after_hello" and found["status"] == "fail", run.words("tls")
    assert "accepted the TCP connection, then reset it right after this host's TLS ClientHello" in found["summary"]
    assert "completes a handshake when the ClientHello carries no server name" in found["summary"]
    assert "a firewall or filter that inspects the server name (SNI)" in found["summary"]
    assert f"Ask the team that runs the firewall, web filter or IPS between this host and {SNI_BLOCKED}" in (
        found["remediation"]
    )
    assert found["details"]["without_server_name"] == "handshake completed"
    assert found["details"]["tcp_connected"] is True


def test_a_leaf_without_its_intermediate_and_without_aia_says_the_evidence_cannot_tell(check):
    # nginx sends the leaf only; its issuer is the lab's intermediate, which no store holds and no AIA names.
    run = check("--url", managed("nochain"), "--only", "dns,tcp,tls")
    found = run.result("tls")
    assert found["code"] == "tls.unknown_issuer" and found["status"] == "fail", run.words("tls")
    assert "nochain.lab.test sent only its own certificate, issued by 'OU=Testing CA" in found["summary"]
    assert "a missing intermediate and an untrusted private root look the same from here" in found["summary"]
    assert "configure nochain.lab.test with the full chain" in found["remediation"]
    assert found["details"]["issuer_download"] is None and found["details"]["leaf"]["ca_issuers"] == []


def test_a_leaf_without_its_intermediate_but_with_aia_is_proven_incomplete_by_the_download(check):
    # nginx sends the leaf only; its AIA names the intermediate, which another nginx serves over HTTP in DER.
    from tests.lab.services import AIA_URL

    host = name("aia")
    run = check("--url", managed("aia"), "--only", "dns,tcp,tls")
    found = run.result("tls")
    assert found["code"] == "tls.incomplete_chain" and found["status"] == "fail", run.words("tls")
    download = found["details"]["issuer_download"]
    assert download["url"] == AIA_URL and download.get("chain_verifies") is True, download
    assert f"{host} sent only its own certificate, not the intermediate" in found["summary"]
    assert f"downloaded from {AIA_URL} the chain verifies, so the server's chain is the only problem" in (
        found["summary"]
    )
    # The server must send its intermediate: whoever runs it acts; this host only has a workaround.
    assert found["remediation"].startswith(
        f"Ask whoever runs {host} to configure it with the full certificate chain (its certificate followed by '"
    )
    assert f"Workaround: download the intermediate from {AIA_URL}" in found["remediation"]
