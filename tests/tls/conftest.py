"""Fixtures for the tls, truststore, clock and proxy tests: one CA for the whole run."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from tests.support.tls_servers import Authority


@pytest.fixture(scope="session")
def trustme_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def root(trustme_ca: trustme.CA) -> Authority:
    """The test root CA (trusted only through --ca-bundle)."""
    return Authority.from_trustme(trustme_ca)


@pytest.fixture(scope="session")
def root_file(root: Authority, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return root.write_pem(tmp_path_factory.mktemp("ca"), "root.pem")


@pytest.fixture(scope="session")
def intermediate(root: Authority) -> Authority:
    return root.child("dtdoctor Test Intermediate CA")
