"""Shared fixtures. Every test starts from a clean environment: no Dynatrace,
proxy or trust-store variables leak in from the machine running the tests."""

from __future__ import annotations

import os

import pytest

_LEAKY_PREFIXES = ("DT_", "SSL_CERT_", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "KUBERNETES_")
_LEAKY_NAMES = {"NO_COLOR", "http_proxy", "https_proxy", "all_proxy", "no_proxy",
                "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in list(os.environ):
        if name in _LEAKY_NAMES or name.startswith(_LEAKY_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    # Tests never write to the real home directory.
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
