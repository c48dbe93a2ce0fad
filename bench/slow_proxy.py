"""What a slow or stalling ``https://`` proxy costs each remote probe, against the budget it declares.

Run from the repository root:  python bench/slow_proxy.py [--timeout SECONDS]

A real CONNECT proxy on 127.0.0.1 (tests/support/connect_proxy.py), spoken to
over TLS with a certificate from a test CA, in front of a fake Dynatrace
environment over HTTPS (tests/support/fake_dynatrace.py). The proxy is held
back at one stage or at every stage: its own TLS handshake, its answer to
CONNECT, the tunnel's first bytes (a destination slow to answer). "slow" is
0.9 timeouts at a stage, just short of the timeout, so each stage alone
succeeds; "silent" never comes. The checks run in this process, as the CLI
runs them (``core.runner``), once with the ``proxy`` check (the other probes
then wait for it and read its tunnels) and once without it (each probe opens
its own tunnels).

For every result: its code, how long it took, and its limit, the probe's
declared ``budget`` times the timeout plus the runner's grace second; a probe
past its limit is abandoned by the runner as ``check.deadline``. Prints a
Markdown table; the worst share of the limit used is the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dtdoctor.checks import CHECKS
from dtdoctor.core.context import RunContext
from dtdoctor.core.runner import GRACE_SECONDS, plan, run_checks
from tests.support.connect_proxy import connect_proxy
from tests.support.factories import context
from tests.support.fake_dynatrace import FakeDynatrace, make_token, serve
from tests.support.tls_servers import TENANT, Authority, proxy_tls, server_context

FAMILIES = ("proxy", "tcp", "tls", "clock", "api", "token")
NEVER = 3600.0


def scenarios(timeout: float) -> dict[str, dict[str, float]]:
    slow = 0.9 * timeout
    return {
        "proxy TLS silent": {"tls": NEVER},
        "proxy TLS slow": {"tls": slow},
        "CONNECT silent": {"connect": NEVER},
        "CONNECT slow": {"connect": slow},
        "destination silent": {"tunnel": NEVER},
        "every stage slow": {"tls": slow, "connect": slow, "tunnel": slow},
    }


@contextlib.contextmanager
def environment(folder: Path) -> Iterator[tuple[str, Path, Path, Authority]]:
    root = Authority("dtdoctor bench root")
    leaf = root.issue(TENANT)
    ca_bundle = root.write_pem(folder, "root.pem")
    token = make_token("BENCHPUBLIC0000000000000")
    token_file = folder / "token"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    app = FakeDynatrace(env="abc12345")
    app.add(token, scopes=("events.ingest",))
    with serve(app, server_context(leaf.chain_pem(), leaf.key_pem)) as server:
        yield f"https://{TENANT}:{server.port}/e/abc12345", ca_bundle, token_file, root


def run_once(ctx: RunContext, families: tuple[str, ...]) -> list[tuple[str, str, int, float]]:
    checks = [check for check in CHECKS if check.id in families]
    limits = {task.key: task.probe.budget * ctx.timeout + GRACE_SECONDS for task in plan(checks, ctx)}
    return [
        (result.id, result.code, result.duration_ms, limits.get((result.id, result.target), 0.0))
        for result in run_checks(checks, ctx)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    timeout = args.timeout
    print(f"`--timeout {timeout:g}`; limit = budget x timeout + {GRACE_SECONDS:g} s\n")
    print("| proxy | checks | result | took | limit | share |")
    print("| --- | --- | --- | --- | --- | --- |")
    worst = (0.0, "")
    with tempfile.TemporaryDirectory() as scratch, environment(Path(scratch)) as (url, ca_bundle, token_file, root):
        proxy_context = proxy_tls(root)
        for name, delays in scenarios(timeout).items():
            for families in (FAMILIES, tuple(f for f in FAMILIES if f != "proxy")):
                with connect_proxy(tls=proxy_context, delays=delays) as port:
                    ctx = context({}, url=url, proxy=f"https://127.0.0.1:{port}", ca_bundle=str(ca_bundle),
                                  token_file=str(token_file), timeout=timeout)
                    rows = run_once(ctx, families)
                label = "with proxy check" if "proxy" in families else "without"
                for check_id, code, took_ms, limit in rows:
                    share = took_ms / 1000 / limit if limit else 0.0
                    worst = max(worst, (share, f"{name}, {label}: {check_id} {took_ms} ms of {limit:g} s"))
                    print(f"| {name} | {label} | {check_id} {code} | {took_ms} ms | {limit:g} s | {share:.0%} |")
    print(f"\nworst: {worst[1]} ({worst[0]:.0%})")


if __name__ == "__main__":
    main()
