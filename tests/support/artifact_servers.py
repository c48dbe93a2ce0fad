"""The repository's test servers for a process outside pytest: ``.ci/artifact`` runs the built artifact against them.

``python -m tests.support.artifact_servers FOLDER`` serves the fake Dynatrace
API (tests/support/fake_dynatrace.py, every behaviour cited there) over HTTPS
on 127.0.0.1 with a fresh test CA, and writes into FOLDER: ``ca.pem`` (pass it
as ``--ca-bundle``), ``url`` (the environment URL), ``token`` (a token with
``events.ingest``; pass it as ``--token-file``) and, last, ``ready``. It
serves until SIGTERM or SIGINT, then writes ``events`` (how many test events
it received).
"""

from __future__ import annotations

import signal
import ssl
import sys
import threading
from pathlib import Path

import trustme

from tests.support.fake_dynatrace import FakeDynatrace, make_token, serve


def main(folder: Path) -> None:
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    fake = FakeDynatrace()
    token = fake.add(make_token("ARTIFACT"), scopes=("events.ingest",))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with serve(fake, context) as env:
        ca.cert_pem.write_to_path(str(folder / "ca.pem"))
        (folder / "url").write_text(env.url() + "\n")
        token_file = folder / "token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        (folder / "ready").write_text("")
        stop.wait()
    (folder / "events").write_text(f"{len(fake.events)}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
