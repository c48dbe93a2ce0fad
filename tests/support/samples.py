"""Sample reports of a healthy and a broken host, and the command that writes them to reports/.

The results are built with the factories, shaped like the real checks' results
(codes from the contract, the detail keys the renderers read), so the samples
show every family without running anything:

    python -m tests.support.samples               # writes reports/*.html and *.json
    python -m tests.support.samples --screenshot  # also reports/broken.png (needs chromium)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dtdoctor.core.model import CheckResult, Evidence, Report, Status
from dtdoctor.fleet.reading import evidence_from_details
from tests.support.factories import report, result

HOST = "abc12345.live.dynatrace.com"
ADDRESS = f"{HOST}:443"
ACTIVEGATE = "ag-01.corp.example.com"
ACTIVEGATE_ADDRESS = f"{ACTIVEGATE}:9999"
TOKEN_ID = "dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX"
GENERATED_AT = "2026-11-22T10:00:00Z"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

HOST_FACTS = {
    "hostname": "web-01",
    "os": "Linux 6.1.0-27-amd64",
    "python": "3.11.2",
    "container": None,
    "distribution": "Debian GNU/Linux 12 (bookworm)",
    "architecture": "x86_64",
}


def config(proxy: str | None = None) -> dict[str, Any]:
    return {
        "url": f"https://{HOST}",
        "token": f"{TOKEN_ID}.<redacted>",
        "scopes": ["events.ingest"],
        "timeout_s": 5.0,
        "activegates": [f"https://{ACTIVEGATE_ADDRESS}/e/abc12345"],
        "eec_port": 14499,
        "proxy": proxy,
        "ca_bundle": None,
        "expiry_warn_days": 14,
        "send_test_event": False,
    }


def _r(check_id: str, target: str, status: Status, code: str, summary: str, title: str, started: int,
       duration: int, remediation: str = "", depends_on: tuple[str, ...] = (), **details: Any) -> CheckResult:
    # Typed evidence read from the detail keys, as merge reads a report written before typed evidence.
    evidence = Evidence.from_json(evidence_from_details(check_id, details))
    made = result(check_id, target, status, code, summary, remediation=remediation, details=details,
                  depends_on=depends_on, evidence=evidence)
    from dataclasses import replace

    return replace(made, title=title, started_ms=started, duration_ms=duration)


def dynatrace_chain() -> list[dict[str, Any]]:
    return [
        {"position": 0, "subject": "CN=*.live.dynatrace.com", "issuer": "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1",
         "not_before": "2026-06-23T00:00:00Z", "not_after": "2027-06-22T23:59:59Z", "key": "RSA 2048",
         "sha256": "4f:9a:1c:…:7e:02", "san": "*.live.dynatrace.com, live.dynatrace.com"},
        {"position": 1, "subject": "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1",
         "issuer": "CN=DigiCert Global Root G2", "not_before": "2021-03-30T00:00:00Z",
         "not_after": "2031-03-29T23:59:59Z", "key": "RSA 2048", "sha256": "c8:02:5f:…:a1:3b", "san": ""},
    ]


def inspecting_chain() -> list[dict[str, Any]]:
    return [
        {"position": 0, "subject": "CN=*.live.dynatrace.com", "issuer": "CN=Corp TLS Inspection CA, O=Example Corp",
         "not_before": "2026-11-21T00:00:00Z", "not_after": "2026-12-21T00:00:00Z", "key": "EC P-256",
         "sha256": "19:e0:7d:…:55:c4", "san": "*.live.dynatrace.com"},
        {"position": 1, "subject": "CN=Corp TLS Inspection CA, O=Example Corp",
         "issuer": "CN=Corp TLS Inspection CA, O=Example Corp", "not_before": "2024-01-01T00:00:00Z",
         "not_after": "2034-01-01T00:00:00Z", "key": "RSA 4096", "sha256": "a7:31:0b:…:9f:e8", "san": ""},
    ]


def common_local(started: int = 0) -> list[CheckResult]:
    return [
        _r("config.url", HOST, Status.PASS, "url.ok", f"Dynatrace SaaS environment abc12345 at https://{HOST}",
           "Environment URL", started, 0, kind="saas", environment_id="abc12345", base_url=f"https://{HOST}"),
    ]


def healthy() -> Report:
    checks = [
        *common_local(),
        _r("config.token", "local", Status.PASS, "token.present", f"API token {TOKEN_ID} from DT_API_TOKEN",
           "API token", 0, 0, token_id=TOKEN_ID, source="environment variable DT_API_TOKEN", kind="classic API token"),
        _r("container", "local", Status.PASS, "container.none", "not running in a container", "Container runtime",
           0, 2, evidence={"/proc/1/cgroup": "0::/init.scope", "/.dockerenv": "absent"}),
        _r("oneagent", "local", Status.PASS, "oneagent.installed", "OneAgent 1.303.48 is installed and running",
           "OneAgent", 0, 14, version="1.303.48.20241112-142101", install_path="/opt/dynatrace/oneagent",
           service="oneagent.service (active)", host_id="0x3f2a9c41d7e6b805"),
        _r("truststore", "local", Status.PASS, "truststore.ok",
           f"system trust store {SYSTEM_BUNDLE} holds 146 certificates; both stores judge {ADDRESS}, "
           f"{ACTIVEGATE_ADDRESS} alike", "Trust stores", 108, 1, depends_on=("tls",),
           system_bundle=SYSTEM_BUNDLE, certificates=146, newest_certificate="2025-08-14", certifi="2025.10.5",
           stores={ADDRESS: {"system": "trusted", "certifi": "trusted"},
                   ACTIVEGATE_ADDRESS: {"system": "trusted", "certifi": "trusted"}}),
        _r("eec", "127.0.0.1:14499", Status.PASS, "eec.listening",
           "OneAgent's local ingest endpoint answers on 127.0.0.1:14499", "Local ingest endpoint", 1, 6,
           latency_ms=1, process="oneagenthelper", pid=1873, path="/v2/logs/ingest"),
        _r("proxy", "-", Status.SKIP, "proxy.none", "no proxy configured: connecting directly", "Proxy", 0, 0),
        _r("dns", HOST, Status.PASS, "dns.ok", f"{HOST} resolves to 2 addresses in 18 ms", "DNS resolution", 1, 18,
           depends_on=("config.url",), ipv4=["52.5.224.88", "34.231.71.160"], ipv6=[], nameservers=["10.0.0.2"],
           latency_ms=18),
        _r("dns", ACTIVEGATE, Status.PASS, "dns.ok", f"{ACTIVEGATE} resolves to 10.20.0.15 in 4 ms",
           "DNS resolution", 1, 4, depends_on=("config.url",), ipv4=["10.20.0.15"], ipv6=[],
           nameservers=["10.0.0.2"], latency_ms=4),
        _r("tcp", ADDRESS, Status.PASS, "tcp.open", "connected to 52.5.224.88:443 in 21 ms", "TCP connection",
           20, 22, depends_on=("dns",), latency_ms=21,
           attempts=[{"address": "52.5.224.88", "port": 443, "outcome": "open", "elapsed_ms": 21}]),
        _r("tcp", ACTIVEGATE_ADDRESS, Status.PASS, "tcp.open", "connected to 10.20.0.15:9999 in 2 ms",
           "TCP connection", 6, 3, depends_on=("dns",), latency_ms=2,
           attempts=[{"address": "10.20.0.15", "port": 9999, "outcome": "open", "elapsed_ms": 2}]),
        _r("tls", ADDRESS, Status.PASS, "tls.ok",
           "TLSv1.3, certificate valid for 212 more days, trusted by the system store",
           "TLS certificate and trust", 43, 64, depends_on=("tcp",), protocol="TLSv1.3",
           cipher="TLS_AES_256_GCM_SHA384", verified_by="system trust store", days_to_expiry=212,
           expiry="2027-06-22T23:59:59Z", latency_ms=61, chain=dynatrace_chain()),
        _r("tls", ACTIVEGATE_ADDRESS, Status.PASS, "tls.ok", "TLSv1.3, certificate valid for 301 more days",
           "TLS certificate and trust", 10, 12, depends_on=("tcp",), protocol="TLSv1.3",
           cipher="TLS_AES_128_GCM_SHA256", verified_by="system trust store", days_to_expiry=301,
           expiry="2027-09-19T08:00:00Z", latency_ms=11,
           chain=[{"position": 0, "subject": f"CN={ACTIVEGATE}", "issuer": "CN=Example Corp Issuing CA 2",
                   "not_before": "2025-09-19T08:00:00Z", "not_after": "2027-09-19T08:00:00Z", "key": "RSA 2048"},
                  {"position": 1, "subject": "CN=Example Corp Issuing CA 2", "issuer": "CN=Example Corp Root CA",
                   "not_before": "2022-01-10T00:00:00Z", "not_after": "2032-01-10T00:00:00Z", "key": "RSA 4096"}]),
        _r("clock", HOST, Status.PASS, "clock.ok", "clock is 0.4 s behind the server's (allowed: 60 s)",
           "Clock", 108, 1, depends_on=("tls",), skew_s=-0.4, server_date="Sun, 22 Nov 2026 10:00:00 GMT"),
        _r("api", HOST, Status.PASS, "api.ok", "the Dynatrace API answered in 143 ms (HTTP 200)", "Dynatrace API",
           108, 146, depends_on=("tls",), url=f"https://{HOST}/api/v2/apiTokens/lookup", http_status=200,
           latency_ms=143, server="ruxit"),
        _r("activegate", ACTIVEGATE_ADDRESS, Status.PASS, "activegate.running", "ActiveGate 1.303.22 is running",
           "ActiveGate", 23, 41, depends_on=("tls",), url=f"https://{ACTIVEGATE_ADDRESS}/rest/health",
           http_status=200, health="RUNNING", version="1.303.22.20241108-120535", latency_ms=39),
        _r("token", HOST, Status.PASS, "token.ok", "token 'ingest-web-01' is enabled and has events.ingest",
           "API token permissions", 256, 131, depends_on=("api",), token_id=TOKEN_ID, name="ingest-web-01",
           enabled=True, owner="platform-team@example.com", created="2026-05-02T08:14:00Z",
           expiry="2027-05-01T00:00:00Z", days_to_expiry=160, latency_ms=128,
           scopes=["events.ingest", "logs.ingest", "metrics.ingest"], required_scopes=["events.ingest"],
           missing_scopes=[]),
    ]
    return report(*checks, generated_at=GENERATED_AT, duration_ms=391, host=HOST_FACTS, config=config())


def broken() -> Report:
    proxy = "http://proxy.corp.example.com:3128"
    checks = [
        *common_local(),
        _r("config.token", "local", Status.WARN, "token.file_insecure",
           "token file /etc/dtdoctor/token is readable by other users (mode 0644)", "API token", 0, 0,
           remediation="chmod 600 /etc/dtdoctor/token", token_id=TOKEN_ID, source="file /etc/dtdoctor/token",
           mode="0644", owner="root"),
        _r("container", "local", Status.PASS, "container.docker", "running in a Docker container (a1b2c3d4e5f6)",
           "Container runtime", 0, 3, evidence={"/.dockerenv": "present", "/proc/1/cgroup": "0::/"},
           container_id="a1b2c3d4e5f6"),
        _r("oneagent", "local", Status.FAIL, "oneagent.not_installed",
           "OneAgent is not installed in this container", "OneAgent", 0, 9,
           remediation="Run OneAgent on the Docker host (or as the Dynatrace Operator in Kubernetes); events from "
           "this container then go through the host's local ingest endpoint.",
           looked_in=["/opt/dynatrace/oneagent", "/var/lib/dynatrace/oneagent"]),
        _r("truststore", "local", Status.WARN, "truststore.stale",
           "the system trust store was last updated 1127 days ago", "Trust stores", 5007, 3,
           remediation="apt-get install --only-upgrade ca-certificates", depends_on=("tls",),
           system_bundle=SYSTEM_BUNDLE, certificates=129, updated="2023-10-21", age_days=1127,
           stores={
               ADDRESS: {"system": "rejected: unable to get local issuer certificate",
                         "certifi": "rejected: unable to get local issuer certificate"},
               ACTIVEGATE_ADDRESS: {
                   "system": f"no verdict: the tls check did not judge {ACTIVEGATE_ADDRESS} (prerequisite.failed)",
                   "certifi": f"no verdict: the tls check did not judge {ACTIVEGATE_ADDRESS} (prerequisite.failed)",
               },
           }),
        _r("eec", "127.0.0.1:14499", Status.FAIL, "eec.unavailable_in_container",
           "nothing listens on 127.0.0.1:14499 inside this container", "Local ingest endpoint", 1, 3,
           remediation="OneAgent's endpoint on the host is not reachable as 127.0.0.1 from a container: "
           "send to the host's address or run the container with --network host.",
           latency_ms=0, error="ECONNREFUSED"),
        _r("proxy", "proxy.corp.example.com:3128", Status.PASS, "proxy.ok",
           "proxy.corp.example.com:3128 accepted CONNECT to abc12345.live.dynatrace.com:443", "Proxy", 1, 36,
           proxy=proxy, source="HTTPS_PROXY", latency_ms=35, connect_status="HTTP/1.1 200 Connection established"),
        _r("dns", HOST, Status.PASS, "dns.ok", f"{HOST} resolves to 2 addresses in 24 ms", "DNS resolution", 1, 24,
           depends_on=("config.url",), ipv4=["52.5.224.88", "34.231.71.160"], ipv6=[], nameservers=["10.0.0.2"],
           latency_ms=24),
        _r("dns", ACTIVEGATE, Status.PASS, "dns.ok", f"{ACTIVEGATE} resolves to 10.20.0.15 in 3 ms",
           "DNS resolution", 1, 3, depends_on=("config.url",), ipv4=["10.20.0.15"], ipv6=[],
           nameservers=["10.0.0.2"], latency_ms=3),
        _r("tcp", ADDRESS, Status.PASS, "tcp.open", "connected through the proxy in 37 ms", "TCP connection",
           37, 38, depends_on=("dns",), latency_ms=37, via_proxy=proxy,
           attempts=[{"address": "proxy.corp.example.com:3128", "port": 3128, "outcome": "open", "elapsed_ms": 37}]),
        _r("tcp", ACTIVEGATE_ADDRESS, Status.FAIL, "tcp.timeout",
           "no answer from 10.20.0.15:9999 within 5 s", "TCP connection", 5, 5002,
           remediation=f"Open port 9999 from this host to {ACTIVEGATE} in the firewall "
           "(test: nc -vz ag-01.corp.example.com 9999).", depends_on=("dns",),
           attempts=[{"address": "10.20.0.15", "port": 9999, "outcome": "timeout", "elapsed_ms": 5000}]),
        _r("tls", ADDRESS, Status.FAIL, "tls.untrusted_root",
           "the certificate chain ends at 'Corp TLS Inspection CA', which this host does not trust",
           "TLS certificate and trust", 76, 88,
           remediation="The proxy inspects TLS. Trust its CA: dtdoctor check --ca-bundle /path/corp-ca.pem, and add "
           "the same CA to OneAgent (oneagentctl --set-proxy ... and the custom CA setting).",
           depends_on=("tcp",), protocol="TLSv1.2", cipher="ECDHE-RSA-AES128-GCM-SHA256",
           verify_error="unable to get local issuer certificate", days_to_expiry=29,
           expiry="2026-12-21T00:00:00Z", latency_ms=84, chain=inspecting_chain()),
        _r("activegate", ACTIVEGATE_ADDRESS, Status.SKIP, "prerequisite.failed",
           f"skipped: tcp {ACTIVEGATE_ADDRESS} did not pass (tcp.timeout)", "ActiveGate", 5007, 0,
           depends_on=("tls",)),
        _r("clock", HOST, Status.FAIL, "clock.skew", "this host's clock is 7 min 12 s ahead of the server's",
           "Clock", 164, 1, remediation="Enable time synchronisation: timedatectl set-ntp true (or chronyd).",
           depends_on=("tls",), skew_s=432.0, server_date="Sun, 22 Nov 2026 09:52:48 GMT", allowed_s=60),
        _r("api", HOST, Status.SKIP, "prerequisite.failed",
           f"skipped: tls {ADDRESS} did not pass (tls.untrusted_root)", "Dynatrace API", 164, 0,
           depends_on=("tls",)),
        _r("token", HOST, Status.SKIP, "prerequisite.failed", f"skipped: api {HOST} did not pass (prerequisite.failed)",
           "API token permissions", 164, 0, depends_on=("api",)),
    ]
    return report(*checks, generated_at=GENERATED_AT, duration_ms=5011, host={**HOST_FACTS, "container": "docker"},
                  config=config(proxy))


def many_results(count: int = 50) -> Report:
    """A report of ``count`` results (for the renderer benchmark): the broken run's results, repeated per target."""
    base = broken()
    checks: list[CheckResult] = []
    index = 0
    from dataclasses import replace

    while len(checks) < count:
        for item in base.checks:
            if len(checks) >= count:
                break
            target = item.target if index == 0 else f"{item.target}#{index}"
            checks.append(replace(item, target=target, started_ms=item.started_ms + index * 7))
        index += 1
    return replace(base, checks=tuple(checks))


SAMPLES = {"healthy": healthy, "broken": broken}


def write_samples(folder: Path) -> list[Path]:
    from dtdoctor.render import render
    from dtdoctor.render.output import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, build in SAMPLES.items():
        sample = build()
        for fmt, suffix in (("html", ".html"), ("json", ".json")):
            path = folder / f"{name}{suffix}"
            write_atomic(path, render(sample, fmt))
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.samples", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports", type=Path, help="folder to write into (default: reports)")
    parser.add_argument("--screenshot", action="store_true", help="also render broken.html to broken.png")
    args = parser.parse_args(argv)
    for path in write_samples(args.out):
        print(path)
    if args.screenshot:
        from tests.support.browser import find_chromium, screenshot

        chromium = find_chromium()
        if chromium is None:
            print("no chromium found: screenshot not taken", file=sys.stderr)
            return 1
        png = args.out / "broken.png"
        screenshot(chromium, args.out / "broken.html", png)
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
