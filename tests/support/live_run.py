"""Real runs of the checks against the test servers, for renderer tests, the end-to-end test and the samples.

``lab`` starts a fake Dynatrace environment and a fake ActiveGate on loopback
(HTTPS with certificates from a test CA, a token with a chosen expiry and
scopes) and ``check`` runs ``dtdoctor check`` against them through the real
command line, writing every report format. Nothing in a result is written by
hand: the checks probe the servers and judge what they see.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from dtdoctor.core.model import Report
from tests.support.fake_dynatrace import App, FakeDynatrace, Recorded, Reply, error, iso, serve
from tests.support.listeners import closed_port
from tests.support.reports import CliRun, run_cli
from tests.support.tls_servers import Authority, server_context

# The remote pipeline: the local families (container, oneagent, eec, truststore)
# judge the machine that runs the tests, which no two machines share.
REMOTE_FAMILIES = "config,dns,tcp,proxy,tls,clock,api,activegate,token"
# A token of the documented shape (dt0c01.<24 public>.<64 secret>).
TOKEN = "dt0c01.SAMPLETOKEN0PUBLIC0ID012." + "SAMPLESECRET" + "5" * 48 + "TAIL"
# Formats written by every run, by file suffix.
SUFFIXES = {"json": ".json", "prometheus": ".prom", "junit": ".xml", "html": ".html"}


@dataclass
class Lab:
    """The servers of one run and what they were set up with."""

    url: str
    activegate_url: str
    ca_bundle: Path
    token_file: Path
    token: str
    started: dt.datetime
    certificate_expires: dt.datetime
    token_expires: dt.datetime | None
    folder: Path
    ports: dict[str, int] = field(default_factory=dict)


@dataclass
class Outputs:
    """One ``dtdoctor check`` run: the exit code, stdout (Nagios) and every report file."""

    run: CliRun
    files: dict[str, Path]

    @property
    def nagios(self) -> str:
        return self.run.stdout

    def text(self, fmt: str) -> str:
        return self.files[fmt].read_text(encoding="utf-8")

    @property
    def report_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.text("json"))
        return loaded

    @property
    def report(self) -> Report:
        return Report.from_json(self.report_json)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@contextlib.contextmanager
def lab(
    folder: Path,
    *,
    certificate_days: float = 200,
    token_days: float | None = 160,
    scopes: Sequence[str] = ("events.ingest", "logs.ingest", "metrics.ingest"),
    activegate_health: str = "RUNNING",
    activegate_api_status: int | None = None,
) -> Iterator[Lab]:
    """A fake environment and Environment ActiveGate whose certificates expire in ``certificate_days``
    and whose token expires in ``token_days`` (None: never); with ``activegate_api_status`` the
    ActiveGate's environment API answers every request with that HTTP error."""
    folder.mkdir(parents=True, exist_ok=True)
    started = _now()
    root = Authority("dtdoctor Sample Root CA", organization="dtdoctor samples")
    issuing = root.child("dtdoctor Sample Issuing CA")
    certificate_expires = started + dt.timedelta(days=certificate_days)
    not_before = started - dt.timedelta(days=1)
    leaf = issuing.issue("127.0.0.1", not_before=not_before, not_after=certificate_expires)
    gateway_leaf = issuing.issue("127.0.0.1", not_before=not_before, not_after=started + dt.timedelta(days=300.5))
    ca_bundle = root.write_pem(folder, "sample-root.pem")

    token = TOKEN
    token_file = folder / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    token_expires = started + dt.timedelta(days=token_days) if token_days is not None else None
    environment = FakeDynatrace(env="abc12345")
    environment.add(token, name="ingest-web-01", scopes=tuple(scopes),
                    expires=iso(token_expires) if token_expires is not None else None)
    # Every date relative to the run, so a sample's dates keep their distances whenever it is made.
    environment.tokens[token].update(creationDate=iso(started - dt.timedelta(days=200)),
                                     lastUsedDate=iso(started - dt.timedelta(days=1)),
                                     modifiedDate=iso(started - dt.timedelta(days=200)))
    gateway = FakeDynatrace(env="abc12345")
    gateway.add(token, name="ingest-web-01", scopes=tuple(scopes))
    gateway.health = activegate_health
    gateway_app: App = gateway if activegate_api_status is None else failing_api(gateway, activegate_api_status)

    with serve(environment, server_context(leaf.chain_pem(), leaf.key_pem)) as env_server, \
            serve(gateway_app, server_context(gateway_leaf.chain_pem(), gateway_leaf.key_pem)) as gateway_server:
        yield Lab(
            url=env_server.url("abc12345"),
            activegate_url=gateway_server.url("abc12345"),
            ca_bundle=ca_bundle,
            token_file=token_file,
            token=token,
            started=started,
            certificate_expires=certificate_expires,
            token_expires=token_expires,
            folder=folder,
            ports={"environment": env_server.port, "activegate": gateway_server.port},
        )


def failing_api(app: FakeDynatrace, status: int) -> App:
    """The ActiveGate answering its health check, but its environment API with ``status`` (a 503
    while it restarts or its cluster connection is down: the ErrorEnvelope shape is documented for
    every endpoint; that an ActiveGate answers 503 then is assumed, not confirmed)."""

    def answer(request: Recorded) -> Reply:
        if "/api/" in request.path:
            return error(status, "Service Unavailable")
        return app(request)

    return answer


def check(setup: Lab, folder: Path, *extra: str, only: str = REMOTE_FAMILIES, name: str = "report",
          activegate: str | None = None, eec_port: int | None = None) -> Outputs:
    """``dtdoctor check -f nagios -o <every format>`` against the lab, through the real command line."""
    files = {fmt: folder / f"{name}{suffix}" for fmt, suffix in SUFFIXES.items()}
    args = [
        "check", "--url", setup.url, "--activegate", activegate or setup.activegate_url,
        "--ca-bundle", str(setup.ca_bundle), "--token-file", str(setup.token_file),
        "--eec-port", str(eec_port or closed_port()), "--timeout", "3", "--only", only, "-f", "nagios", *extra,
    ]
    for path in files.values():
        args += ["-o", str(path)]
    return Outputs(run_cli(args), files)
