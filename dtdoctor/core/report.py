"""Assemble a Report from a run: results, host facts, redacted configuration."""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from dtdoctor import __version__
from dtdoctor.config import Settings, display_url
from dtdoctor.core.model import CheckResult, Report, utc_timestamp


def redacted_config(settings: Settings) -> dict[str, Any]:
    """The configuration as the report shows it: the token's secret never appears."""
    url: str | None = None
    if settings.url is not None:
        url = settings.url.endpoint.base_url if settings.url.endpoint else display_url(settings.url.text)
    token: str | None = None
    if settings.token is not None:
        token = settings.token.redacted or "<malformed, redacted>"
    config: dict[str, Any] = {
        "url": url,
        "token": token,
        "scopes": list(settings.scopes),
        "timeout_s": settings.timeout,
        "activegates": [
            parsed.endpoint.base_url if parsed.endpoint else display_url(parsed.text) for parsed in settings.activegates
        ],
        "eec_port": settings.eec_port,
        "proxy": display_url(settings.proxy) if settings.proxy else None,
        "ca_bundle": str(settings.ca_bundle) if settings.ca_bundle else None,
        "expiry_warn_days": settings.expiry_warn_days,
        "send_test_event": settings.send_test_event,
    }
    return config


def with_proxy_used(config: dict[str, Any], results: Sequence[CheckResult]) -> dict[str, Any]:
    """``config`` naming the proxy the run went through and the setting that chose it.

    ``--proxy`` is only one source: a proxy from ``HTTPS_PROXY`` (or ``ALL_PROXY``)
    is just as much the configuration. The ``proxy`` check's results say which
    proxy each route took (credentials already removed) and from where.
    """
    used = proxies_used(results)
    config = dict(config)
    if config.get("proxy") is None and used:
        config["proxy"] = ", ".join(used)
    sources = list(dict.fromkeys(used.values())) or (["--proxy"] if config.get("proxy") else [])
    config["proxy_source"] = ", ".join(sources) or None
    return config


def proxies_used(results: Sequence[CheckResult]) -> dict[str, str]:
    """Each proxy a ``proxy`` result went through (as displayed), with the setting that chose it."""
    used: dict[str, str] = {}
    for result in (item for item in results if item.id == "proxy"):
        proxy, source = result.evidence.proxy, result.details.get("source")
        if isinstance(proxy, str) and isinstance(source, str) and source:
            used.setdefault(proxy, source)
    return used


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def oneagent_facts(results: Sequence[CheckResult]) -> dict[str, Any]:
    """Where OneAgent itself sends (``oneagentctl --get-server``), from the oneagent result when it could tell."""
    oneagent = next((r for r in results if r.id == "oneagent"), None)
    servers = oneagent.details.get("server") if oneagent is not None else None
    return {"oneagent_server": [str(server) for server in servers]} if isinstance(servers, list) and servers else {}


def build_report(
    results: Sequence[CheckResult],
    settings: Settings,
    host: dict[str, Any],
    started_at: dt.datetime,
    duration_ms: int,
    warn_ok: bool = False,
) -> Report:
    host = dict(host)
    container = next((r for r in results if r.id == "container"), None)
    if container is not None and host.get("container") is None and container.code.startswith("container."):
        # The check names the runtime in its details (``systemd-nspawn`` behind container.other,
        # None for a plain host or WSL); older reports only have the code.
        if "runtime" in container.details:
            runtime = container.details["runtime"]
            host["container"] = str(runtime) if runtime else None
        else:
            suffix = container.code.split(".", 1)[1]
            host["container"] = None if suffix in ("none", "wsl") else suffix
        if container.details.get("wsl"):
            host["wsl"] = True
    host.update(oneagent_facts(results))
    return Report(
        tool_version=__version__,
        generated_at=utc_timestamp(started_at),
        duration_ms=duration_ms,
        host=host,
        config=with_proxy_used(redacted_config(settings), results),
        checks=tuple(results),
        warn_ok=warn_ok,
    )
