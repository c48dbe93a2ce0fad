"""Fixtures for the Dynatrace API checks: one CA for the session, HTTPS fakes on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import trustme

from dtdoctor.checks import CHECKS
from dtdoctor.core.model import CheckResult
from dtdoctor.core.runner import run_checks, select_checks
from tests.support import factories


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> Any:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture()
def ca_bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


Runner = Callable[..., list[CheckResult]]


@pytest.fixture()
def run(ca_bundle: str) -> Runner:
    """Run selected checks with settings as the CLI builds them; the CA is trusted via --ca-bundle."""

    def runner(only: list[str], token: str | None = None, environ: dict[str, str] | None = None,
               **options: Any) -> list[CheckResult]:
        env = dict(environ or {})
        if token is not None:
            env["DT_API_TOKEN"] = token
        options.setdefault("ca_bundle", ca_bundle)
        options.setdefault("timeout", 2.0)
        ctx = factories.context(env, **options)
        return run_checks(select_checks(CHECKS, only), ctx)

    return runner


def by_id(results: list[CheckResult], check_id: str) -> list[CheckResult]:
    return [result for result in results if result.id == check_id]


def one(results: list[CheckResult], check_id: str) -> CheckResult:
    found = by_id(results, check_id)
    assert len(found) == 1, [(r.id, r.target, r.code) for r in results]
    return found[0]
