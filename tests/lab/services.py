"""The lab's servers: Debian's nginx, squid and dnsmasq, configured in a temporary folder.

Each server runs in the servers namespace, is started with ``ip netns exec``
(so the process id we hold is the server's own) and stopped by that id.
Certificates come from trustme (a root, an intermediate, leaves) and openssl
(a self-signed one).
"""

from __future__ import annotations

import datetime
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import trustme

from tests.lab import netns

DOMAIN = "lab.test"
SAAS_HOST = "abc12345.live.dynatrace.com"
# A name of the good server's address whose ClientHello the router's firewall resets (it matches the server name).
SNI_BLOCKED = "sniblock.lab.test"
# A SaaS-like name the lab DNS gives the server with the expired certificate, reached through the bumping squid.
BUMPED_SAAS_HOST = "bumped0001.live.dynatrace.com"
# SaaS-like names of the nginx whose clock is 2 hours ahead, reached through a bumping squid: one its certificate
# covers (squid relays its answers) and one it does not (squid answers with its own error page, on squid's clock).
BUMPED_SKEWED = "bumped0005.live.dynatrace.com"
BUMPED_SKEWED_WRONG_NAME = "bumped0006.live.dynatrace.com"
# SaaS-like names the lab DNS gives the servers with bad certificates (and the skewed one), reached through the
# bumping squid.
BUMPED_ORIGINS: dict[str, str] = {
    BUMPED_SAAS_HOST: "expired",
    "bumped0002.live.dynatrace.com": "selfsigned",
    "bumped0003.live.dynatrace.com": "wronghost",
    "bumped0004.live.dynatrace.com": "nochain",
    BUMPED_SKEWED: "skewed",
    BUMPED_SKEWED_WRONG_NAME: "skewed",
}
BUMP_CA_NAME = "Lab Inspection CA"

# Server addresses (host part in 10.201.2.0/24) and the names the lab DNS gives them.
HOSTS: dict[str, str] = {
    "good": "10.201.2.10",
    "expired": "10.201.2.11",
    "wronghost": "10.201.2.12",
    "selfsigned": "10.201.2.13",
    "nochain": "10.201.2.14",
    "tls10": "10.201.2.15",
    "tls13": "10.201.2.16",
    "plain": "10.201.2.17",
    "captive": "10.201.2.18",
    "tls12": "10.201.2.19",
    "fw": "10.201.2.20",
    "blackhole": "10.201.2.21",
    "bigdrop": "10.201.2.22",
    "redirect": "10.201.2.23",
    "downgrade": "10.201.2.24",
    "aia": "10.201.2.25",
    "pki": "10.201.2.26",
    "skewed": "10.201.2.40",
    "skewedsmall": "10.201.2.41",
    "skewedtoo": "10.201.2.42",
    "proxy": "10.201.2.30",
    "authproxy": "10.201.2.31",
    "bumpproxy": "10.201.2.32",
    "ntlmproxy": "10.201.2.33",
    "tlsproxy": "10.201.2.34",
    "parentproxy": "10.201.2.35",
    "peekbumpproxy": "10.201.2.36",
    "publicbumpproxy": "10.201.2.37",
    "dns": "10.201.2.53",
    "dnsrefused": "10.201.2.54",
    "dnsservfail": "10.201.2.55",
    "dnssilent": "10.201.2.56",
}
HOSTS6 = {"good6": "fd00:201:2::10"}
PROXY_USER = "labuser"
# A password with characters that are percent-encoded in a URL, so every encoding of it can be looked for.
PROXY_PASSWORD = "pr0xy-s3cret/%:@lab"
# The lab's servers whose clock libfaketime sets off (its README, 4d: "+2h" is two hours ahead), one nginx
# each, and the host the redirecting server sends the API to.
SKEWED: dict[str, str] = {"skewed": "+2h", "skewedsmall": "+10"}
# A second name and address the +2 h nginx serves: two servers whose clocks agree with each other.
SKEWED_ALSO: dict[str, tuple[str, ...]] = {"skewed": ("skewedtoo",)}
REDIRECT_TARGET = "elsewhere.lab.test"
# Where the leaf of aia.lab.test says its issuer can be downloaded (its AIA "CA Issuers" URL), served by nginx on
# pki.lab.test over plain HTTP, in DER, as public CAs publish their intermediates.
AIA_URL = f"http://pki.{DOMAIN}/ca/intermediate.crt"


def name(label: str) -> str:
    return f"{label}.{DOMAIN}"


@dataclass
class Certificates:
    folder: Path
    root: trustme.CA = field(default_factory=trustme.CA)

    def __post_init__(self) -> None:
        self.intermediate = self.root.create_child_ca()
        self.root.cert_pem.write_to_path(str(self.ca_file))

    @property
    def ca_file(self) -> Path:
        return self.folder / "lab-root.pem"

    def _write(self, label: str, leaf: trustme.LeafCert, full_chain: bool = True) -> tuple[Path, Path]:
        cert, key = self.folder / f"{label}.crt", self.folder / f"{label}.key"
        blobs = leaf.cert_chain_pems if full_chain else leaf.cert_chain_pems[:1]
        cert.write_bytes(b"".join(blob.bytes() for blob in blobs))
        key.write_bytes(leaf.private_key_pem.bytes())
        return cert, key

    def issue(self, label: str, *names: str, full_chain: bool = True, **dates: datetime.datetime) -> tuple[Path, Path]:
        return self._write(label, self.intermediate.issue_cert(*names, **dates), full_chain)

    def issue_with_aia(self, label: str, host: str) -> tuple[Path, Path]:
        """A leaf (sent alone) whose AIA names ``AIA_URL``, and the intermediate's DER file that URL serves."""
        from cryptography.hazmat.primitives.serialization import Encoding

        from tests.support.tls_servers import Authority

        issuer = Authority.from_trustme(self.intermediate)
        (self.folder / "intermediate.der").write_bytes(issuer.cert.public_bytes(Encoding.DER))
        leaf = issuer.issue(host, aia_url=AIA_URL)
        cert, key = self.folder / f"{label}.crt", self.folder / f"{label}.key"
        cert.write_bytes(leaf.cert_pem)
        key.write_bytes(leaf.key_pem)
        return cert, key

    def self_signed(self, label: str, host: str) -> tuple[Path, Path]:
        cert, key = self.folder / f"{label}.crt", self.folder / f"{label}.key"
        netns.run(
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "30", "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host}",
        )
        return cert, key


def _server_block(address: str, cert: tuple[Path, Path] | None, body: str, extra: str = "", port: int = 443) -> str:
    tls = ""
    if cert is not None:
        tls = f"ssl_certificate {cert[0]}; ssl_certificate_key {cert[1]};"
    listen = f"{address}:{port}{' ssl' if cert else ''}"
    return f"server {{ listen {listen}; {tls} {extra} {body} }}\n"


# /api/v1/time answers the server's own time in epoch milliseconds, as Dynatrace's does: nginx's $msec
# ("1767225600.123", from the server's clock, faked or not) without its dot, so body and Date header agree.
_EPOCH_MS_MAP = r'map $msec $epoch_ms { "~^(?<s>\d+)\.(?<ms>\d+)$" "$s$ms"; }'
_API_BODY = (
    'location ~ /api/v1/time$ { default_type text/plain; return 200 "$epoch_ms"; } '
    'location / { default_type text/plain; return 404 "not found"; }'
)
# A server without the time API: every path is nginx's 404, whose Date header is the server's clock.
_NO_TIME_API_BODY = 'location / { default_type text/plain; return 404 "not found"; }'
# A reverse proxy or load balancer that sends every request to another host (a wrong environment URL, a
# moved cluster): 301 with a Location, as nginx writes it for `return 301 URL`.
_REDIRECT_BODY = f"location / {{ return 301 https://{REDIRECT_TARGET}$request_uri; }}"
# One that sends HTTPS requests to plain http:// on the same host (a proxy that believes TLS ends elsewhere).
_DOWNGRADE_BODY = "location / { return 301 http://$host$request_uri; }"
_CAPTIVE_BODY = (
    'location / { default_type text/html; return 200 "<html><head><title>Guest Wi-Fi: please log in</title>'
    '</head><body>Accept the terms to continue.</body></html>"; }'
)


def nginx_config(folder: Path, certs: Certificates) -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    good_names = [name(label) for label in ("good", "fw", "captive", "bigdrop", "tls13", "tls12", "tls10", "good6",
                                            "redirect", "downgrade", *SKEWED, "skewedtoo")]
    good_names.append(BUMPED_SKEWED)
    good = certs.issue("good", *good_names, SAAS_HOST)
    expired = certs.issue("expired", name("expired"), not_before=now - datetime.timedelta(days=400),
                          not_after=now - datetime.timedelta(days=3))
    wrong = certs.issue("wronghost", name("other"))
    selfsigned = certs.self_signed("selfsigned", name("selfsigned"))
    nochain = certs.issue("nochain", name("nochain"), full_chain=False)
    aia = certs.issue_with_aia("aia", name("aia"))
    # The intermediate as a CA publishes it: DER, with the media type RFC 2585 gives it.
    pki_body = (
        f"location = /ca/intermediate.crt {{ types {{ }} default_type application/pkix-cert; "
        f"alias {folder}/intermediate.der; }}"
    )
    tls10 = "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;"
    blocks = [
        _server_block(HOSTS["good"], good, _API_BODY),
        _server_block(f"[{HOSTS6['good6']}]", good, _API_BODY),
        _server_block(HOSTS["expired"], expired, _API_BODY),
        _server_block(HOSTS["wronghost"], wrong, _API_BODY),
        _server_block(HOSTS["selfsigned"], selfsigned, _API_BODY),
        _server_block(HOSTS["nochain"], nochain, _API_BODY),
        _server_block(HOSTS["aia"], aia, _API_BODY),
        _server_block(HOSTS["pki"], None, pki_body, port=80),
        _server_block(HOSTS["tls10"], good, _API_BODY, tls10),
        _server_block(HOSTS["tls13"], good, _API_BODY, "ssl_protocols TLSv1.3;"),
        _server_block(HOSTS["tls12"], good, _API_BODY, "ssl_protocols TLSv1.2;"),
        _server_block(HOSTS["redirect"], good, _REDIRECT_BODY),
        _server_block(HOSTS["downgrade"], good, _DOWNGRADE_BODY),
        _server_block(HOSTS["plain"], None, _API_BODY),
        _server_block(HOSTS["captive"], good, _CAPTIVE_BODY),
        _server_block(HOSTS["fw"], good, _API_BODY),
        _server_block(HOSTS["bigdrop"], good, _API_BODY),
    ]
    # Every port the firewall rules below name also has a listener, so only the firewall makes them fail.
    blocks += [_server_block(HOSTS["fw"], good, _API_BODY, port=port) for port in FIREWALLED_PORTS]
    return _nginx_main(folder, "nginx", blocks)


def _nginx_main(folder: Path, label: str, blocks: list[str], top: str = "") -> str:
    return (
        f"pid {folder}/{label}.pid; error_log {folder}/{label}-error.log; worker_processes 1; {top}\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log {folder}/{label}-access.log; client_body_temp_path {folder}; "
        f"proxy_temp_path {folder}; fastcgi_temp_path {folder}; uwsgi_temp_path {folder}; scgi_temp_path {folder};\n"
        f"{_EPOCH_MS_MAP}\n"
        + "".join(blocks)
        + "}\n"
    )


def skewed_nginx(folder: Path, label: str) -> list[str]:
    """An nginx whose clock libfaketime sets off by ``SKEWED[label]``: its Date header and its /api/v1/time.

    libfaketime is loaded with LD_PRELOAD and told the offset in FAKETIME (its README, 4a and 4d). nginx
    clears its workers' environment except what ``env`` names, so both are kept for the worker: libfaketime
    reads FAKETIME again when its cache runs out (README, 4e), and a worker without it falls back to the real
    clock. FAKETIME_CACHE_DURATION=1 makes that show within a second instead of after the default 10 s, so
    the clock tests fail at once if the worker loses the offset, whenever they run.
    """
    good = (folder / "good.crt", folder / "good.key")
    config = folder / f"nginx-{label}.conf"
    blocks = [_server_block(HOSTS[served], good, _API_BODY) for served in (label, *SKEWED_ALSO.get(label, ()))]
    if label == "skewed":
        # Under the SaaS-like name the bumping squid relays, no time API: the Date header is the only time there.
        blocks.append(_server_block(HOSTS[label], good, _NO_TIME_API_BODY, f"server_name {BUMPED_SKEWED};"))
    config.write_text(_nginx_main(folder, f"nginx-{label}", blocks, "env LD_PRELOAD; env FAKETIME;"))
    library = faketime_library()
    return ["env", f"LD_PRELOAD={library}", f"FAKETIME={SKEWED[label]}", "FAKETIME_CACHE_DURATION=1",
            "nginx", "-c", str(config), "-g", "daemon off;"]


def faketime_library() -> str:
    """Where Debian's libfaketime package put the library, for this machine's architecture."""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        raise netns.LabUnavailable("libfaketime is not installed (see .ci/lab for the packages)")
    return str(found[0])


# Port -> what the router's firewall does to TCP from the client to fw.lab.test on that port.
FIREWALLED_PORTS: dict[int, tuple[str, ...]] = {
    9991: ("REJECT", "--reject-with", "icmp-admin-prohibited"),
    9992: ("REJECT", "--reject-with", "icmp-host-prohibited"),
    9993: ("REJECT", "--reject-with", "icmp-host-unreachable"),
    9994: ("REJECT", "--reject-with", "icmp-net-unreachable"),
    9995: ("REJECT", "--reject-with", "icmp-port-unreachable"),
    9996: ("REJECT", "--reject-with", "tcp-reset"),
    9997: ("DROP",),
    9999: ("REJECT", "--reject-with", "icmp-admin-prohibited"),
}
FIREWALLED_PORTS6: dict[int, tuple[str, ...]] = {
    9991: ("REJECT", "--reject-with", "icmp6-adm-prohibited"),
}


def router_firewall() -> None:
    rules: list[tuple[str, ...]] = []
    for port, action in FIREWALLED_PORTS.items():
        rules.append(("-A", "FORWARD", "-p", "tcp", "-d", HOSTS["fw"], "--dport", str(port), "-j", *action))
    # A firewall that reads the server name in the ClientHello: TCP passes, the ClientHello gets a reset.
    rules.append((
        "-A", "FORWARD", "-p", "tcp", "-d", HOSTS["good"], "--dport", "443", "-m", "string", "--algo", "bm",
        "--string", SNI_BLOCKED, "-j", "REJECT", "--reject-with", "tcp-reset",
    ))
    # A resolver that never answers.
    rules.append(("-A", "FORWARD", "-d", HOSTS["dnssilent"], "-j", "DROP"))
    # A path that drops large packets: the handshake passes, the certificate never arrives.
    rules.append(("-A", "FORWARD", "-s", HOSTS["bigdrop"], "-m", "length", "--length", "1000:65535", "-j", "DROP"))
    netns.firewall(netns.ROUTER, *rules)
    rules6 = [
        ("-A", "FORWARD", "-p", "tcp", "-d", HOSTS6["good6"], "--dport", str(port), "-j", *action)
        for port, action in FIREWALLED_PORTS6.items()
    ]
    netns.firewall(netns.ROUTER, *rules6, ipv6=True)
    # The servers' own firewall: squid's connections to blackhole.lab.test go nowhere.
    netns.firewall(netns.SERVERS, ("-A", "OUTPUT", "-d", HOSTS["blackhole"], "-p", "tcp", "-j", "DROP"))


def dnsmasq_argv(folder: Path, address: str, mode: str) -> list[str]:
    base = [
        "dnsmasq", "--keep-in-foreground", "--no-hosts", "--no-resolv", "--bind-interfaces",
        f"--listen-address={address}", f"--pid-file={folder}/dnsmasq-{mode}.pid", "--user=root",
        "--log-facility=-", "--log-queries",
    ]
    if mode == "main":
        records = [f"--host-record={name(label)},{ip}" for label, ip in HOSTS.items()]
        records.append(f"--host-record={SAAS_HOST},{HOSTS['good']}")
        records.append(f"--host-record={SNI_BLOCKED},{HOSTS['good']}")
        records += [f"--host-record={host},{HOSTS[label]}" for host, label in BUMPED_ORIGINS.items()]
        records.append(f"--host-record=good6.{DOMAIN},{HOSTS6['good6']}")
        return [
            *base, f"--local=/{DOMAIN}/", "--local=/dynatrace.com/", *records,
            # A name that exists (it has a TXT record) but has no address: NODATA.
            f"--txt-record=nodata.{DOMAIN},lab",
            # Forwarded to resolvers that fail in their own way, for the proxy's sake.
            f"--server=/servfail.{DOMAIN}/{HOSTS['dnsservfail']}",
        ]
    if mode == "refused":  # no upstream and nothing local: dnsmasq refuses every query
        return base
    # servfail: a validating resolver in front of the unsigned lab zone; validation fails, so it answers
    # SERVFAIL (the common real-world reason for one).
    return [
        *base, "--dnssec", "--dnssec-no-timecheck", f"--server={HOSTS['dns']}",
        # The root zone's key-signing key (KSK-2017), as published by IANA.
        "--trust-anchor=.,20326,8,2,E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D",
    ]


# systemd-resolved's stub listener, as /run/systemd/resolve/stub-resolv.conf names it (systemd-resolved.service(8),
# "/etc/resolv.conf"); the servers it forwards to are in /run/systemd/resolve/resolv.conf.
RESOLVED_STUB = "127.0.0.53"
# What resolved writes in stub-resolv.conf, with the lab's short timeout (glibc's default would wait 10 s for a
# stub that stays silent).
STUB_RESOLV_CONF = f"nameserver {RESOLVED_STUB}\noptions edns0 trust-ad timeout:1 attempts:1\nsearch .\n"


def resolved_stub_argv(folder: Path, upstream: str) -> list[str]:
    """dnsmasq standing in for systemd-resolved's stub: 127.0.0.53 in the client namespace, forwarding every
    query to ``upstream`` and caching nothing. Like the stub, it relays the upstream's answer code (SERVFAIL,
    REFUSED, NXDOMAIN); unlike resolved, which answers SERVFAIL when its upstreams time out, it stays silent."""
    return [
        "dnsmasq", "--keep-in-foreground", "--no-hosts", "--no-resolv", "--bind-interfaces",
        f"--listen-address={RESOLVED_STUB}", f"--pid-file={folder}/dnsmasq-stub.pid", "--user=root",
        "--cache-size=0", f"--server={upstream}", "--log-facility=-", "--log-queries",
    ]


def resolved_files(root: Path, upstreams: list[str]) -> None:
    """The files resolved keeps, under a filesystem root dtdoctor reads (``--root``): /etc/resolv.conf naming the
    stub, and /run/systemd/resolve/resolv.conf naming the upstream servers."""
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/resolv.conf").write_text(STUB_RESOLV_CONF)
    (root / "run/systemd/resolve").mkdir(parents=True, exist_ok=True)
    (root / "run/systemd/resolve/stub-resolv.conf").write_text(STUB_RESOLV_CONF)
    (root / "run/systemd/resolve/resolv.conf").write_text("".join(f"nameserver {server}\n" for server in upstreams))


_SQUID_EXTRA = """
# What the lab adds to Debian's default squid.conf: where to listen, the lab's network, its own files.
http_port {address}:3128
http_access allow localnet
pid_filename {own}/squid.pid
cache_log {own}/cache.log
access_log stdio:{own}/access.log
cache_store_log none
coredump_dir {own}
dns_nameservers {dns}
# Stop at once when the lab ends (the default waits 30 s for clients that are long gone).
shutdown_lifetime 0 seconds
"""


def squid_config(folder: Path, label: str, certs: Certificates) -> Path:
    """Debian's /etc/squid/squid.conf unchanged, except its conf.d include, which points at the lab's additions.

    The default ``http_port 3128`` would bind every address of the namespace, so it
    is replaced by the lab address; everything else (the ACLs, ``deny CONNECT
    !SSL_ports``) is Debian's.
    """
    default = Path("/etc/squid/squid.conf").read_text()
    own = folder / f"squid-{label}"  # squid writes its logs as the user proxy
    own.mkdir()
    shutil.chown(own, "proxy", "proxy")
    extra = _SQUID_EXTRA.format(address=HOSTS[label], own=own, dns=HOSTS["dns"])
    if label == "authproxy":
        extra = _basic_auth(folder, "http_access deny !labusers") + extra
    if label == "ntlmproxy":
        extra = (
            "auth_param ntlm program /usr/lib/squid/ntlm_fake_auth\nauth_param ntlm children 1\n"
            "acl labusers proxy_auth REQUIRED\nhttp_access deny !labusers\n" + extra
        )
    if label in BUMP_RULES:
        extra = _bump_extra(folder, own, certs, label) + extra.replace(f"http_port {HOSTS[label]}:3128\n", "")
    if label == "parentproxy":
        # A squid whose only way out is a parent proxy that is down (nothing listens on its port): it cannot
        # forward anything, to names it can resolve too.
        extra += f"cache_peer {HOSTS['good']} parent {DEAD_PARENT_PORT} 0 no-query no-digest\nnever_direct allow all\n"
    if label == "tlsproxy":
        extra = _tls_extra(folder, certs) + extra.replace(f"http_port {HOSTS[label]}:3128\n", "")
    extra_file = folder / f"squid-{label}.extra.conf"
    extra_file.write_text(extra)
    lines = []
    for line in default.splitlines():
        if line.strip() == "include /etc/squid/conf.d/*.conf":
            line = f"include {extra_file}"
        elif line.strip() == "http_port 3128":
            continue
        lines.append(line)
    config = folder / f"squid-{label}.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


def _basic_auth(folder: Path, rule: str) -> str:
    """Basic authentication against the lab's one user (basic_ncsa_auth), then ``rule`` to demand it."""
    users = folder / "squid-passwd"
    if not users.exists():
        hashed = netns.run("openssl", "passwd", "-apr1", PROXY_PASSWORD).stdout.strip()
        users.write_text(f"{PROXY_USER}:{hashed}\n")
    return (
        f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {users}\n"
        f"auth_param basic realm lab\nacl labusers proxy_auth REQUIRED\n{rule}\n"
    )


# A port of the good server's address where nothing listens: the parent of the parentproxy squid.
DEAD_PARENT_PORT = 3999
# The https_port squid's ports: TLS to the proxy itself, with a certificate from the lab's CA (for the proxy's
# name, so an address in the URL does not match it), the same with Basic auth, a self-signed certificate
# and an expired one.
TLS_PROXY_PORT = 3129
TLS_PROXY_AUTH_PORT = 3130
TLS_PROXY_SELF_SIGNED_PORT = 3131
TLS_PROXY_EXPIRED_PORT = 3132


def _tls_extra(folder: Path, certs: Certificates) -> str:
    """squid's https_port (a proxy that clients reach over TLS: HTTPS_PROXY=https://...)."""
    address = HOSTS["tlsproxy"]
    cert, key = certs.issue("tlsproxy", name("tlsproxy"))
    own_cert, own_key = certs.self_signed("tlsproxy-self", name("tlsproxy"))
    now = datetime.datetime.now(datetime.timezone.utc)
    old_cert, old_key = certs.issue("tlsproxy-expired", name("tlsproxy"), not_before=now - datetime.timedelta(days=400),
                                    not_after=now - datetime.timedelta(days=2))
    return (
        f"https_port {address}:{TLS_PROXY_PORT} tls-cert={cert} tls-key={key}\n"
        f"https_port {address}:{TLS_PROXY_AUTH_PORT} tls-cert={cert} tls-key={key} name=tlsauth\n"
        f"https_port {address}:{TLS_PROXY_SELF_SIGNED_PORT} tls-cert={own_cert} tls-key={own_key}\n"
        f"https_port {address}:{TLS_PROXY_EXPIRED_PORT} tls-cert={old_cert} tls-key={old_key}\n"
        + _basic_auth(folder, "acl tlsauth myportname tlsauth\nhttp_access deny tlsauth !labusers")
    )


# How each bumping squid decides (squid.conf's ssl_bump): at once, before it knows anything of the server
# (client-first), or after peeking at the client's ClientHello (its server name), as most current configurations do.
BUMP_RULES = {
    "bumpproxy": "ssl_bump bump all\n",
    "peekbumpproxy": "acl step1 at_step SslBump1\nssl_bump peek step1\nssl_bump bump all\n",
    "publicbumpproxy": "ssl_bump bump all\n",
}
# The CA file each bumping squid verifies servers with: the lab's root, or (publicbumpproxy) only the public
# roots of the ca-certificates package (.ci/lab installs it), like a proxy that was never given a private CA.
PUBLIC_ROOTS = "/etc/ssl/certs/ca-certificates.crt"


def _bump_extra(folder: Path, own: Path, certs: Certificates, label: str) -> str:
    """squid-openssl's ssl-bump: its own CA (trusted by the client beside the lab root), a certificate db
    made by security_file_certgen, and every tunnel bumped."""
    authority = trustme.CA(organization_name=BUMP_CA_NAME)
    ca = folder / f"{label}-ca.pem"
    ca.write_bytes(authority.cert_pem.bytes() + authority.private_key_pem.bytes())
    with certs.ca_file.open("ab") as trusted:
        trusted.write(authority.cert_pem.bytes())
    database = own / "ssl_db"
    netns.run("/usr/lib/squid/security_file_certgen", "-c", "-s", str(database), "-M", "4MB")
    for path in (database, *database.rglob("*")):
        shutil.chown(path, "proxy", "proxy")
    return (
        f"http_port {HOSTS[label]}:3128 ssl-bump tls-cert={ca} generate-host-certificates=on "
        "dynamic_cert_mem_cache_size=4MB\n"
        f"sslcrtd_program /usr/lib/squid/security_file_certgen -s {database} -M 4MB\nsslcrtd_children 2\n"
        f"tls_outgoing_options cafile={PUBLIC_ROOTS if label == 'publicbumpproxy' else certs.ca_file}\n"
        + BUMP_RULES[label]
    )


@dataclass
class Lab:
    folder: Path
    certs: Certificates
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, label: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{label}.out", "wb")  # closed in stop
        self.logs.append(log)
        process = netns.popen_in(netns.SERVERS, argv, log)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                # SIGINT is the fast shutdown of nginx and squid; dnsmasq ignores it and stops on SIGTERM.
                process.send_signal(signal.SIGTERM if process.args[4] == "dnsmasq" else signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()

    def log(self, label: str) -> str:
        path = self.folder / f"{label}.out"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for_port(
    address: str, port: int, process: subprocess.Popen[bytes], what: str, limit: float = 20,
    namespace: str = netns.SERVERS,
) -> None:
    """Wait until ``address:port`` accepts TCP inside ``namespace`` (the servers' by default)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        probe = netns.in_ns(
            namespace, "python3", "-c",
            f"import socket; socket.create_connection(({address!r}, {port}), timeout=1).close()",
            check=False,
        )
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on {address}:{port} within {limit:g} s")


def start_all(folder: Path) -> Lab:
    for binary in ("nginx", "squid", "dnsmasq", "openssl"):
        if shutil.which(binary) is None:
            raise netns.LabUnavailable(f"{binary} is not installed (see .ci/lab for the packages)")
    certs = Certificates(folder)
    lab = Lab(folder, certs)
    try:
        router_firewall()
        (folder / "nginx.conf").write_text(nginx_config(folder, certs))
        nginx = lab.start("nginx", ["nginx", "-c", str(folder / "nginx.conf"), "-g", "daemon off;"])
        skewed = [(label, lab.start(f"nginx-{label}", skewed_nginx(folder, label))) for label in SKEWED]
        for mode, label in (("main", "dns"), ("refused", "dnsrefused"), ("servfail", "dnsservfail")):
            lab.start(f"dnsmasq-{mode}", dnsmasq_argv(folder, HOSTS[label], mode))
        squids = []
        for label in ("proxy", "authproxy", "ntlmproxy", "bumpproxy", "peekbumpproxy", "publicbumpproxy", "tlsproxy",
                      "parentproxy"):
            config = squid_config(folder, label, certs)
            squids.append((label, lab.start(f"squid-{label}", ["squid", "-N", "-f", str(config)])))
        wait_for_port(HOSTS["good"], 443, nginx, "nginx")
        for label, process in skewed:
            wait_for_port(HOSTS[label], 443, process, f"nginx ({label}, under libfaketime)")
        for label, process in squids:
            port = TLS_PROXY_PORT if label == "tlsproxy" else 3128
            wait_for_port(HOSTS[label], port, process, f"squid ({label})")
    except BaseException:
        lab.stop()
        raise
    return lab

